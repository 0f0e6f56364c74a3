#!/usr/bin/env sh
# Make sure the FashionMNIST IDX files are on this machine; install Debian's package if we can.
# Order of places, as jaxhw.data.fashion_mnist looks: $FASHION_MNIST_DIR, then Debian's directory.
set -u
debian_dir=/usr/share/datasets/fashion-mnist
files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"

has_all() {
  for f in $files; do [ -f "$1/$f" ] || return 1; done
  return 0
}

if [ -n "${FASHION_MNIST_DIR:-}" ] && has_all "$FASHION_MNIST_DIR"; then exit 0; fi
if has_all "$debian_dir"; then exit 0; fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "FashionMNIST not found: installing Debian's dataset-fashion-mnist ..."
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; then
    has_all "$debian_dir" && exit 0
  fi
  echo "apt-get could not install dataset-fashion-mnist." >&2
fi

cat >&2 <<MSG
FashionMNIST IDX files not found (looked in \$FASHION_MNIST_DIR and $debian_dir).
Get them with:    sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist
or put the four files ($files) in a folder and set FASHION_MNIST_DIR to it.
Sections and tests that need the real data are skipped until then.
MSG
exit 0
