"""TeX in a rendered notebook page as MathML, so that formulas show offline (no MathJax).

nbconvert leaves a markdown cell's `$...$` and `$$...$$` as text for MathJax to typeset in the
browser; the runner's pages load no scripts (they open offline), so `mathml` converts those
spans to MathML, which browsers draw natively. A span that latex2mathml cannot convert stays as
TeX text and is reported by `mathml`'s caller through `leftover_tex`.
"""

from __future__ import annotations

import html
import re

# A markdown cell's rendered HTML in nbconvert's lab template.
_MARKDOWN = re.compile(r'(<div class="[^"]*jp-RenderedMarkdown[^"]*"[^>]*>)(.*?)(</div>)', re.S)
# `$$...$$` or `$...$`, left to right; TeX never holds a raw `<` here (nbconvert escaped it), so
# a lone dollar sign cannot pair with one across an HTML tag.
_UNKNOWN = re.compile(r"<m[ion][^>]*>\\[A-Za-z]")
_TEX = re.compile(r"\$\$([^$<]+?)\$\$|\$([^$<]+?)\$")


def _convert(tex: str, display: str) -> str | None:
    from latex2mathml.converter import convert

    try:
        out = convert(html.unescape(tex).strip(), display=display)
    except Exception:  # latex2mathml raises a variety of errors for malformed TeX
        return None
    # A command it does not know comes out as the text "\name": keep the TeX instead.
    return None if _UNKNOWN.search(out) else out


def _spans(text: str) -> str:
    def convert(match: re.Match) -> str:
        if match[1] is not None:
            return _convert(match[1], "block") or match[0]
        return _convert(match[2], "inline") or match[0]

    return _TEX.sub(convert, text)


def mathml(page: str) -> str:
    """`page` with the TeX of its markdown cells (`$...$`, `$$...$$`) as MathML."""
    return _MARKDOWN.sub(lambda m: m[1] + _spans(m[2]) + m[3], page)


def leftover_tex(page: str) -> list[str]:
    """The `$...$` spans still in the markdown cells of a converted page (not convertible)."""
    return [m[0] for block in _MARKDOWN.finditer(page) for m in _TEX.finditer(block[2])]
