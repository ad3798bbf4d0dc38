#!/usr/bin/env python3
"""Writes presets/paper-a/*.toml: one training preset per cell of paper A's Tables 1-3.

Table 1: six models x four data sets (MNIST, two EMNIST stand-ins: generated letters and the
real handwritten OCR letters, CIFAR-10), patterned sequences.
Table 2: the same, random order (the control; same images, shuffled).
Table 3: CRNN with patterns, longer sequences (MNIST and CIFAR-10 T = 10..25, letters T = 12..30).
CIFAR-10 presets read every batch in the folder: all 50,000 training and 10,000 test images.

Run from the repository root: python3 scripts/gen_presets.py
"""
import pathlib

OUT = pathlib.Path("presets/paper-a")
MODELS = ["CNN-2-S", "CNN-4-S", "CNN", "CRNN-2-S", "CRNN-4-S", "CRNN"]
OCCLUSION = """[occlusion]
shape = "frame"
fill = "black"
level_widths = [0.04, 0.08, 0.13, 0.19, 0.26]
level_mix = [1.0, 1.0, 1.0, 1.0, 1.0]
box_min = 0.6
box_max = 0.95
"""
DATA = {
    "mnist": ('[data]\nsource = "idx"\npath = "mnist"\nname = "MNIST"\n', 5,
              '[sequences.patterns]\nlibrary = "digit-progressions"\nsteps = [1, 2]\n', "MNIST"),
    "letters": ('[data]\nsource = "letters"\n\n[data.config]\nper_class = 2400\nseed = 7\n', 6,
                '[sequences.patterns]\nlibrary = "cities"\n', "generated letters (EMNIST stand-in)"),
    "ocr-letters": ('[data]\nsource = "ocr-letters"\npath = "ocr-letters"\n\n[data.options]\ntest_folds = [8, 9]\n', 6,
                    '[sequences.patterns]\nlibrary = "cities"\n', "real handwritten OCR letters (EMNIST stand-in)"),
    "cifar10": ('[data]\nsource = "cifar10"\npath = "cifar10"\n', 5,
                '[sequences.patterns]\nlibrary = "label-progressions"\nsteps = [1, 2]\n', "CIFAR-10 (all 60,000 images)"),
}


# The OCR letters' two splits favour different city names when planned apart (unbalanced
# letters): the test split is kept to the names the training split got, as in a plan that is cut
# at random into train and test (see TestPatterns in src/sequence/builder.rs).
SEQUENCES_EXTRA = {"ocr-letters": 'test_patterns = "trained"\n'}


def preset(name, desc, data, t, ordering, patterns, model, epochs, extra=""):
    return f'''name = "{name}"
description = "{desc}"

{data}
{OCCLUSION}
[sequences]
t = {t}
ordering = "{ordering}"
seed = 1
{extra}
{patterns}
[model]
kind = "{model}"

[train]
epochs = {epochs}
batch_size = 32
learning_rate = 0.001
seed = 1
'''


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    n = 0
    for table, ordering in [(1, "patterned"), (2, "random")]:
        for ds, (data, t, patterns, label) in DATA.items():
            for model in MODELS:
                slug = model.lower()
                name = f"a{table}-{ds}-{ordering}-{slug}"
                desc = f"Paper A Table {table}: {model} on {label}, {ordering} sequences of T = {t}."
                (OUT / f"{name}.toml").write_text(
                    preset(name, desc, data, t, ordering, patterns, model, 10, SEQUENCES_EXTRA.get(ds, "")))
                n += 1
    for ds, ts in [("mnist", [10, 15, 20, 25]), ("cifar10", [10, 15, 20, 25]), ("letters", [12, 18, 24, 30]),
                   ("ocr-letters", [12, 18, 24, 30])]:
        data, _, patterns, label = DATA[ds]
        for t in ts:
            name = f"a3-{ds}-patterned-crnn-t{t}"
            desc = f"Paper A Table 3: CRNN on {label}, patterned sequences of T = {t}."
            (OUT / f"{name}.toml").write_text(
                preset(name, desc, data, t, "patterned", patterns, "CRNN", 10, SEQUENCES_EXTRA.get(ds, "")))
            n += 1
    print(f"wrote {n} presets to {OUT}")


if __name__ == "__main__":
    main()
