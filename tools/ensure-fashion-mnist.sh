#!/usr/bin/env sh
# Make sure the FashionMNIST IDX files are on this machine (install Debian's package if we can),
# then prepare the TFDS copy and jaxhw's array cache once, so that `make test` and `make run`
# find them warm. Never fails the build: without the data, the tests that need it are skipped.
# Places, in the order jaxhw.data.fashion_mnist looks: $FASHION_MNIST_DIR, then Debian's folder
# (also the TFDS manual dir, which this script does not manage). The TFDS copy keeps the IDX
# files' order: an older copy whose records TFDS shuffled (TFDS's stock builder, or jaxhw before
# it kept the order) is replaced, with its caches; a damaged copy is reported with the fix. A
# copy prepared from other IDX files (or before copies recorded their source) is prepared again.
set -u
debian_dir=/usr/share/datasets/fashion-mnist
files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"
python=${JAXHW_PYTHON:-.venv/bin/python}

has_all() {
  for f in $files; do [ -f "$1/$f" ] || return 1; done
  return 0
}

how_to_get() {
  cat >&2 <<MSG
Get them with:    sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist
or put the four files ($files) in a folder and set FASHION_MNIST_DIR to it.
Sections and tests that need the real data are skipped or fail with this advice until then.
MSG
}

# Prepare array_record under the TFDS data dir and cache the arrays (a minute, once).
prepare() {
  [ -x "$python" ] || return 0
  "$python" - <<'PY' || echo "FashionMNIST: TFDS preparation failed (see above); sections will retry." >&2
import sys
from jaxhw.data import fashion_mnist as fm

if not all(fm.is_cached(split) for split in fm.SPLITS):
    print(f"FashionMNIST: preparing the TFDS copy under {fm.dataset_dir()} (once, ~1 min) ...",
          file=sys.stderr)
    for split in fm.SPLITS:
        fm.load(split)
PY
  return 0
}

if [ -n "${FASHION_MNIST_DIR:-}" ]; then
  if has_all "$FASHION_MNIST_DIR"; then prepare; exit 0; fi
  echo "FASHION_MNIST_DIR=$FASHION_MNIST_DIR lacks some of: $files" >&2
  echo "(jaxhw uses that folder whenever FASHION_MNIST_DIR is set; unset it to use Debian's.)" >&2
  how_to_get
  exit 0
fi
if has_all "$debian_dir"; then prepare; exit 0; fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "FashionMNIST not found: installing Debian's dataset-fashion-mnist ..."
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; then
    if has_all "$debian_dir"; then prepare; exit 0; fi
  fi
  echo "apt-get could not install dataset-fashion-mnist." >&2
fi

echo "FashionMNIST IDX files not found (looked in \$FASHION_MNIST_DIR and $debian_dir)." >&2
how_to_get
exit 0
