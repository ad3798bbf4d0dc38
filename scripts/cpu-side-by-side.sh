#!/usr/bin/env bash
# occlab binaries and PyTorch CPU on the same CRNN/CNN training step, side by side in one run
# (these machines are noisy: compare within a run, never across runs). Per round: each binary's
# `bench train --backend flex`, then PyTorch (benches/reference/crnn_torch.py).
#
#   scripts/cpu-side-by-side.sh [-r ROUNDS] [-t THREADS] [-p PYTHON] BIN [BIN …]
#
# PYTHON defaults to python3; it needs torch and numpy (docs/PERFORMANCE.md, "Installing PyTorch
# here"); without them the PyTorch lines say so and the binaries are still measured.
set -uo pipefail
rounds=3 threads=2 python=python3
while getopts "r:t:p:" o; do
    case $o in
        r) rounds=$OPTARG ;;
        t) threads=$OPTARG ;;
        p) python=$OPTARG ;;
        *) sed -n 2,9p "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n 2,9p "$0"; exit 2; }
cd "$(dirname "$0")/.."
echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    for bin in "$@"; do
        echo "== round $r $bin $(date -u +%H:%M:%S)"
        RAYON_NUM_THREADS=$threads "$bin" bench train --backend flex --repeats 7 2>&1 \
            | grep -E "train step|back to back"
    done
    echo "== round $r PyTorch $(date -u +%H:%M:%S)"
    "$python" benches/reference/crnn_torch.py --threads "$threads" --repeats 7 2>&1 \
        | grep -E "RESULT|capability|Error"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%H:%M:%S)"
