#!/usr/bin/env bash
# occlab vs PyTorch: CPU training throughput of paper A's CRNN and CNN, same machine, same thread
# count, one run. See docs/PERFORMANCE.md for the figures and what they mean.
#
#   benches/reference/run.sh [--profile release|dev] [--threads N] [--repeats N] [--ops]
#
#   --profile  which cargo profile builds occlab (default release; dev = opt-level 2 dependencies)
#   --threads  threads for both (RAYON_NUM_THREADS for occlab, torch.set_num_threads) (default 2)
#   --repeats  timed train steps after 2 warm-up steps, median reported (default 7)
#   --ops      also the per-op micro timings: examples/flex_spike.rs `ops` and the same in PyTorch.
#              release: the example is built as the binary of benches/reference/flex-release
#              (occlab's exact dependency set, reusing the release build); dev: `cargo run
#              --example flex_spike` (dev profile: dependencies at opt-level 2 *with* debug
#              assertions, several times slower than release).
#
# Besides the --threads run, PyTorch is also timed with 1 thread: occlab's flex backend is built
# without burn's `rayon` feature and runs on one core whatever RAYON_NUM_THREADS says (the
# "occlab CPU" column, from /usr/bin/time, shows it).
#
# Needs: cargo; python3 with venv; PyPI reachable the first time (CPU PyTorch into
# benches/reference/.venv, git-ignored). PyPI's Linux x86_64 torch wheel is the CUDA build
# (~0.5 GB wheel, ~5 GB with its nvidia-* dependencies); it runs on the CPU without a GPU.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/occlab-target}"

profile=release
threads=2
repeats=7
with_ops=0
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --repeats) repeats="$2"; shift 2 ;;
        --ops) with_ops=1; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$profile" in
    release) cargo_profile=(--release) ;;
    dev) cargo_profile=() ;;
    *) echo "run.sh: --profile is release or dev" >&2; exit 2 ;;
esac

# --- PyTorch (CPU) in a venv, from PyPI only --------------------------------------------------
venv="$here/.venv"
py="$venv/bin/python"
if ! [ -x "$py" ] || ! "$py" -c 'import torch' 2>/dev/null; then
    echo "== installing PyTorch from PyPI into $venv"
    python3 -m venv "$venv" || { echo "run.sh: cannot create a venv (python3 -m venv)" >&2; exit 1; }
    t0=$(date +%s)
    if ! "$venv/bin/pip" install torch numpy; then
        echo "run.sh: PyTorch could not be installed from PyPI; no comparison is possible." >&2
        exit 1
    fi
    echo "   installed in $(( $(date +%s) - t0 )) s; venv size $(du -sh "$venv" | cut -f1)"
fi
if ! "$py" -c 'import torch' 2>/dev/null; then
    echo "run.sh: torch is installed but does not import:" >&2
    "$py" -c 'import torch' >&2 || true
    exit 1
fi

# --- build occlab first, so the build does not run during the measurements --------------------
cd "$root"
echo "== building occlab (${profile} profile) in $CARGO_TARGET_DIR"
cargo build "${cargo_profile[@]}" --bin occlab
case "$profile" in release) bindir="$CARGO_TARGET_DIR/release" ;; dev) bindir="$CARGO_TARGET_DIR/debug" ;; esac
if [ "$with_ops" = 1 ]; then
    if [ "$profile" = release ]; then
        cp Cargo.lock "$here/flex-release/Cargo.lock"
        cargo build --release --manifest-path "$here/flex-release/Cargo.toml"
        spike=("$bindir/flex_spike_release")
    else
        cargo build --example flex_spike
        spike=("$bindir/examples/flex_spike")
    fi
fi

machine() {
    echo "   load average: $(cat /proc/loadavg); rustc processes: $(pgrep -c -x rustc || true)"
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u '+%Y-%m-%d %H:%M UTC')"

# --- occlab ------------------------------------------------------------------------------------
echo "== occlab bench train --backend flex --repeats $repeats (RAYON_NUM_THREADS=$threads)"
machine
occlab_json="$(mktemp)"
occlab_time="$(mktemp)"
torch_out="$(mktemp)"
torch1_out="$(mktemp)"
trap 'rm -f "$occlab_json" "$occlab_time" "$torch_out" "$torch1_out"' EXIT
timer=()
if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -o "$occlab_time" -f '%P'); fi
RAYON_NUM_THREADS="$threads" "${timer[@]}" "$bindir/occlab" \
    bench train --backend flex --repeats "$repeats" --json > "$occlab_json"
cat "$occlab_json"
[ -s "$occlab_time" ] && echo "   occlab process CPU utilisation: $(cat "$occlab_time") (100% = one core)"

# --- PyTorch -----------------------------------------------------------------------------------
echo "== PyTorch crnn_torch.py --threads $threads --repeats $repeats"
machine
OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" \
    "$py" "$here/crnn_torch.py" --threads "$threads" --repeats "$repeats" | tee "$torch_out"
if [ "$threads" != 1 ]; then
    echo "== PyTorch crnn_torch.py --threads 1 --repeats $repeats (occlab's flex uses one core)"
    machine
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        "$py" "$here/crnn_torch.py" --threads 1 --repeats "$repeats" | tee "$torch1_out"
fi

# --- side by side ------------------------------------------------------------------------------
echo
echo "== side by side (${profile} profile occlab, flex backend; $threads threads each; median of $repeats steps)"
"$py" - "$threads" "$occlab_json" "$torch_out" "$torch1_out" <<'EOF'
import json, sys
threads = sys.argv[1]
occ = {f["name"].split()[0]: f for f in json.load(open(sys.argv[2]))}

def results(path):
    out = {}
    for line in open(path):
        if line.startswith("RESULT "):
            kv = dict(p.split("=", 1) for p in line.split()[1:])
            out[kv["model"]] = kv
    return out

torch, torch1 = results(sys.argv[3]), results(sys.argv[4])
cols = ["model", "occlab img/s", f"PyTorch {threads}T img/s", "occlab / PyTorch",
        "occlab step ms", "PyTorch step ms"]
if torch1:
    cols += ["PyTorch 1T img/s", "occlab / PyTorch 1T"]
print("| " + " | ".join(cols) + " |")
print("|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|")
for model in ["CRNN", "CNN"]:
    o, t = occ.get(model), torch.get(model)
    if not o or not t:
        continue
    oi, ti = o["per_second"], float(t["images_per_s"])
    row = [model, f"{oi:.1f}", f"{ti:.1f}", f"{oi / ti:.2f}", f"{o['median_ms']:.1f}",
           f"{float(t['median_ms']):.1f}"]
    if torch1 and model in torch1:
        t1 = float(torch1[model]["images_per_s"])
        row += [f"{t1:.1f}", f"{oi / t1:.2f}"]
    print("| " + " | ".join(row) + " |")
EOF

# --- optional per-op profile -------------------------------------------------------------------
if [ "$with_ops" = 1 ]; then
    echo
    echo "== per-op: flex (examples/flex_spike.rs: train-step phases and ops, ${profile} profile)"
    machine
    RAYON_NUM_THREADS="$threads" "${spike[@]}" CRNN CNN ops
    echo
    echo "== per-op: PyTorch"
    machine
    OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" \
        "$py" "$here/crnn_torch.py" --threads "$threads" --repeats 3 --models CRNN --profile --ops
    if [ "$threads" != 1 ]; then
        echo
        echo "== per-op: PyTorch, 1 thread"
        machine
        OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
            "$py" "$here/crnn_torch.py" --threads 1 --models "" --ops
    fi
fi
