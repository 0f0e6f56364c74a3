"""Formulas in the rendered pages: markdown TeX becomes MathML, so it shows offline."""

import nbformat

from jaxhw import math_html, runner


def _page(markdown: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
    nb.cells.append(nbformat.v4.new_code_cell("price = '$5'", outputs=[]))
    return runner.render_html(nb, "t", "banner")


def test_inline_and_display_tex_become_mathml():
    page = _page("Inline $a_i < b^2$ and $\\hat{y}_i$.\n\n$$\\frac{\\partial L}{\\partial w}"
                 " = \\sum_{i=1}^n x_i$$")
    assert page.count('display="inline"') == 2 and page.count('display="block"') == 1
    assert "<mfrac>" in page and "<msub>" in page
    assert math_html.leftover_tex(page) == []


def test_tex_inside_a_folded_answer_is_converted_and_code_is_left_alone():
    page = _page("<details><summary>Answer</summary>\n\nIt is $x^2$, **bold**.\n\n</details>")
    assert "<details><summary>Answer</summary>" in page and "<strong>bold</strong>" in page
    assert '<msup><mi>x</mi><mn>2</mn></msup>' in page
    assert "$5" in page  # a code cell's dollar sign is not TeX


def test_tex_that_does_not_convert_stays_as_text_and_is_reported():
    page = math_html.mathml('<div class="jp-RenderedMarkdown">$\\notacommand{x}$ and $a^{$ '
                            "and $x$</div>")
    assert math_html.leftover_tex(page) == ["$\\notacommand{x}$", "$a^{$"]
