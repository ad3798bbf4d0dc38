#!/usr/bin/env python3
"""Test accuracy of a run split by whether each test sequence's pattern had training sequences.

A patterned test sequence spells its pattern in its true labels, so the run's predictions.csv
(the best epoch's, when the run held out validation) says which pattern each test sequence is;
the plan (`occlab dataset --json` on the run's config) says which patterns training got.

    occlab dataset --preset RUN/config.toml --data-dir DATA --json > plan.json
    python3 scripts/trained_names.py plan.json RUN/predictions.csv

Used for docs/RESULTS.md ("Table A1, OCR letters"), where the run's config planned each split on
its own: its letters are class indices 0-25 for a-z, so patterns are read as upper-case names.
"""
import collections
import csv
import json
import sys


def main(plan_path, *predictions):
    plan = json.load(open(plan_path))
    trained = {name for name, n_train, _ in plan["per_pattern"] if n_train > 0}
    for path in predictions:
        seqs = collections.defaultdict(list)
        for r in csv.DictReader(open(path)):
            seqs[int(r["sequence"])].append((int(r["position"]), int(r["truth"]), int(r["predicted"])))
        right = collections.Counter()
        total = collections.Counter()
        by_pos = collections.defaultdict(lambda: [0, 0])
        sequences = collections.Counter()
        for items in seqs.values():
            items.sort()
            name = "".join(chr(ord("A") + t) for _, t, _ in items)
            group = "trained" if name in trained else "never trained"
            sequences[group] += 1
            for pos, t, p in items:
                right[group] += t == p
                total[group] += 1
                by_pos[(group, pos)][0] += t == p
                by_pos[(group, pos)][1] += 1
        print(path)
        for group in ("trained", "never trained"):
            n = total[group]
            if n == 0:
                print(f"  {group}: no test sequences")
                continue
            positions = sorted(p for g, p in by_pos if g == group)
            pos = " ".join(f"{100 * by_pos[(group, p)][0] / by_pos[(group, p)][1]:.1f}" for p in positions)
            print(f"  {group} names: {right[group]}/{n} = {100 * right[group] / n:.2f} %"
                  f" ({sequences[group]} sequences); by position: {pos}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
