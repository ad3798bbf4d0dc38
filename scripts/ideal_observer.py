#!/usr/bin/env python3
"""How much a patterned table's context is worth, given the per-image CNN's own evidence.

An ideal observer that knows the patterns and how often training used each one reads a test
sequence left to right, as the CRNN does (no look-ahead). At each position it sees only the CNN's
predicted labels so far and the CNN's confusion matrix (P(predicted | true), from the CNN run's
*validation* split at its best epoch, so no test label informs it). It keeps a posterior over the
patterns and answers the label the posterior makes most likely at this position. Its accuracy is
what the CNN's per-image evidence plus the context allow: an estimate of the best a CRNN built on
that CNN could do, to read beside the CRNN's measured accuracy by position.

    occlab dataset --preset CNN_RUN/config.toml --data-dir DATA --json > plan.json
    python3 scripts/ideal_observer.py plan.json CNN_RUN [CRNN_RUN]

CNN_RUN (and CRNN_RUN) are run folders with `predictions.csv` (the best epoch's test predictions)
and `metrics.jsonl` or `epochs.jsonl`. Approximation: one confusion matrix for all occlusion
levels (the epoch record keeps the confusion overall only), so the observer trusts a level-5
prediction as much as a level-1 one; per-level likelihoods would do better still.

Used for docs/RESULTS.md (the CIFAR-10 and MNIST A1 sections).
"""
import collections
import csv
import json
import os
import sys

CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def pattern_labels(name, classes):
    """A pattern's class indices from its name: '0-1-2-3-4', 'airplane-…', or 'BOSTON'."""
    if "-" in name:
        parts = name.split("-")
        if all(p.isdigit() for p in parts):
            return [int(p) for p in parts]
        return [CIFAR10.index(p) for p in parts]
    return [ord(c) - ord("A") for c in name.upper()]


def epochs(run):
    for f in ("metrics.jsonl", "epochs.jsonl"):
        p = os.path.join(run, f)
        if os.path.exists(p):
            out = [json.loads(l) for l in open(p) if '"kind":"epoch"' in l]
            if out:
                return out
    sys.exit(f"{run}: no epoch records in metrics.jsonl or epochs.jsonl")


def accuracy(m):
    return m["overall"]["correct"] / max(m["overall"]["total"], 1)


def best_epoch(run):
    """The epoch chosen by validation accuracy (the first on ties), as occlab chooses it."""
    es = epochs(run)
    return max(es, key=lambda e: (accuracy(e["validation"]), -e["epoch"]))


def sequences(run):
    seqs = collections.defaultdict(list)
    for r in csv.DictReader(open(os.path.join(run, "predictions.csv"))):
        seqs[int(r["sequence"])].append((int(r["position"]), int(r["truth"]), int(r["predicted"])))
    for items in seqs.values():
        items.sort()
    return seqs


def main(plan_path, cnn_run, crnn_run=None):
    plan = json.load(open(plan_path))
    classes = plan["classes"]
    patterns = [(pattern_labels(n, classes), n_train) for n, n_train, _ in plan["per_pattern"] if n_train > 0]
    total_train = sum(n for _, n in patterns)
    prior = [n / total_train for _, n in patterns]

    best = best_epoch(cnn_run)
    conf = best["validation"]["confusion"]  # conf[true][predicted]
    like = []
    for row in conf:
        s = sum(row) + len(row)  # add-one smoothing: no prediction is impossible
        like.append([(c + 1) / s for c in row])

    seqs = sequences(cnn_run)
    t = plan["t"]
    right = [0] * t
    cnn_right = [0] * t
    count = [0] * t
    for items in seqs.values():
        post = list(prior)
        for pos, truth, pred in items:
            post = [p * like[pat[pos]][pred] for p, (pat, _) in zip(post, patterns)]
            z = sum(post)
            post = [p / z for p in post]
            score = collections.Counter()
            for p, (pat, _) in zip(post, patterns):
                score[pat[pos]] += p
            answer = max(score, key=score.get)
            right[pos] += answer == truth
            cnn_right[pos] += pred == truth
            count[pos] += 1

    def pct(r, n):
        return 100 * r / max(n, 1)

    print(f"plan: {len(patterns)} patterns with training sequences, T = {t}; {len(seqs)} test sequences")
    print(f"CNN run {os.path.basename(cnn_run.rstrip('/'))}: best epoch {best['epoch']}, "
          f"validation {100 * accuracy(best['validation']):.2f} %")
    rows = [("CNN alone", cnn_right, count), ("ideal observer on the CNN", right, count)]
    if crnn_run:
        c_right = [0] * t
        c_count = [0] * t
        for items in sequences(crnn_run).values():
            for pos, truth, pred in items:
                c_right[pos] += pred == truth
                c_count[pos] += 1
        rows.append((f"CRNN {os.path.basename(crnn_run.rstrip('/'))}", c_right, c_count))
    print("| | test | " + " | ".join(f"position {i + 1}" for i in range(t)) + " |")
    print("|---|---:|" + "---:|" * t)
    for label, r, n in rows:
        cells = " | ".join(f"{pct(a, b):.1f}" for a, b in zip(r, n))
        print(f"| {label} | {pct(sum(r), sum(n)):.2f} | {cells} |")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(*sys.argv[1:])
