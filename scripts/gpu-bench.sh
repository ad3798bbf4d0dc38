#!/usr/bin/env bash
# The GPU measurements of issue 14, in one call of the device tool (≤ 10 minutes on an H200):
# occlab on WGPU (CRNN and CNN at 32×5 and 256×5: images/s, kernel launches per step; a first and a second start;
# a CRNN step's parts timed, beside PyTorch's),
# PyTorch CUDA eager on the same model and batches (benches/reference/crnn_torch.py), and one
# full-MNIST CRNN epoch. Everything lands in $OUT (8 files at most come back):
#   summary.md      the table for docs/PERFORMANCE.md (images/s, ratio to PyTorch, % of FP32 peak)
#   env.txt         GPU, driver, Vulkan loader, the adapter occlab chose
#   bench.json      occlab bench train --json (both models, both batches)
#   starts.txt      a first and a second start (autotune's results read back from disk)
#   torch.txt       PyTorch's RESULT lines
#   train.txt       the full-MNIST epoch's console output
#   metrics.jsonl   that run's step and epoch records
#   log.txt         this script's own log
#
# Prepared on the development machine (docs/PERFORMANCE.md, "GPU: the device script"):
#   .gpu/occlab.xz      stripped, xz-compressed release binary (WGSL kernels, fusion, autotune)
#   .gpu/occlab-spirv.xz optional: the same built with `--features gpu-fusion,spirv` (SPIR-V
#                       kernels on Vulkan, whose cooperative matrices reach tensor cores); when
#                       present, step 2b measures it in f32 (into env.txt) and step 2d in mixed
#                       precision (`--precision mixed`: f16 products; into bench.json's "mixed",
#                       a table in summary.md, and a full-MNIST epoch into train.txt)
#   .gpu/data/mnist/    the four MNIST files (from ../shared/data/mnist)
#   .gl/*.deb           the Vulkan/EGL loader packages (device tool README)
# and run as: run(command="scripts/gpu-bench.sh", carry=[".gpu", ".gl"], timeout_s=600).
#
# To check the script without a GPU (lavapipe, tiny sizes, no PyTorch needed):
#   OUT=/tmp/gpu-out OCCLAB_BIN=$CARGO_TARGET_DIR/debug/occlab GPU_BENCH_BATCHES=2 \
#   GPU_BENCH_REPEATS=1 GPU_BENCH_TRAIN_LIMIT=40 DATA_DIR=../shared/data scripts/gpu-bench.sh
# (OCCLAB_MIXED_BIN=… runs step 2d with that binary instead of the SPIR-V one: on lavapipe the
# default build, whose WGSL kernels have f16 but no cooperative matrices.)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
OUT="${OUT:-$root/gpu-out}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1

batches="${GPU_BENCH_BATCHES:-32 256}"
# Stages to run (a second call can skip what the first measured): starts bench ops spirv mixed torch train
stages="${GPU_BENCH_STAGES:-starts bench ops spirv mixed torch train}"
train_batches="${GPU_BENCH_TRAIN_BATCHES:-${batches%% *}}"
want() { [[ " $stages " == *" $1 "* ]]; }
repeats="${GPU_BENCH_REPEATS:-10}"
data_dir="${DATA_DIR:-$root/.gpu/data}"
train_limit="${GPU_BENCH_TRAIN_LIMIT:-}"
work=$(mktemp -d)
say() { echo "== $(date -u +%H:%M:%S) $*"; }

# --- the Vulkan loader (a bare device machine has none) ----------------------------------------
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
    if compgen -G ".gl/*.deb" >/dev/null; then
        say "unpacking the Vulkan/EGL loaders from .gl/"
        for f in .gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
    else
        echo "no Vulkan loader and no .gl/*.deb to unpack: see the device tool README" >&2
    fi
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$nvidia_icd" ] && ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; then
    export VK_DRIVER_FILES="$nvidia_icd"
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi

# --- the binary ----------------------------------------------------------------------------------
if [ -n "${OCCLAB_BIN:-}" ]; then
    bin="$OCCLAB_BIN"
else
    bin="$work/occlab"
    say "unpacking .gpu/occlab.xz"
    xz -dc .gpu/occlab.xz > "$bin" || { echo "no .gpu/occlab.xz (see the header)" >&2; exit 1; }
    chmod +x "$bin"
fi

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "host: $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    echo "vulkan loader: $(ldconfig -p | grep -m1 'libvulkan\.so\.1' || echo none)"
    echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
    echo "occlab: $bin ($(stat -c %s "$bin") bytes)"
    echo "batches: $batches; repeats: $repeats"
} > "$OUT/env.txt"
cat "$OUT/env.txt"

batch_args=()
for b in $batches; do batch_args+=(--batch "$b"); done
# One GPU cache (autotune's results, compiled kernels) for every stage of the WGSL binary.
export OCCLAB_GPU_CACHE="$work/gpu-cache"

# --- 1. a first and a second start: autotune's results kept on disk (src/train/gpu_cache.rs) ---
# The same small bench twice in fresh processes: the first tunes the matmul/convolution kernels
# for this GPU and writes the results to OCCLAB_GPU_CACHE, the second reads them back.
first_batch=${batches%% *}
: > "$OUT/starts.txt"
want starts && for start in first second; do
    t0=$(date +%s.%N)
    timeout 150 "$bin" bench train --backend wgpu --model crnn --batch "$first_batch" --repeats 3 \
        2>&1 | grep -v XDG_RUNTIME_DIR | grep -E 'train step|back to back|cache' > "$work/start.txt"
    t1=$(date +%s.%N)
    echo "$start start (CRNN ${first_batch}×5: 2 warm-up steps, then 6): $(python3 -c "print(f'{$t1 - $t0:.1f}')") s" \
        | tee -a "$OUT/starts.txt"
    cat "$work/start.txt" >> "$OUT/starts.txt"
done
want starts && echo "cache folder: $(du -sh "$OCCLAB_GPU_CACHE" 2>/dev/null | cut -f1)" >> "$OUT/starts.txt"

# --- 2. occlab on WGPU: images/s and kernel launches per step ------------------------------------
if want bench; then
    say "occlab bench train --backend wgpu ${batch_args[*]} --repeats $repeats"
    timeout 240 "$bin" bench train --backend wgpu "${batch_args[@]}" --repeats "$repeats" --json \
        > "$OUT/bench.json" 2> "$work/bench.err"
    echo "exit $?"
    grep -v XDG_RUNTIME_DIR "$work/bench.err" | tee -a "$OUT/env.txt"
fi

# --- 2b. the same with SPIR-V kernels (the `spirv` build), when carried ---------------------------
if want spirv && [ -f .gpu/occlab-spirv.xz ]; then
    xz -dc .gpu/occlab-spirv.xz > "$work/occlab-spirv" && chmod +x "$work/occlab-spirv"
    say "SPIR-V build: occlab bench train --backend wgpu ${batch_args[*]} --repeats $repeats"
    {
        echo
        echo "SPIR-V build (--features spirv), occlab bench train --backend wgpu:"
        OCCLAB_GPU_CACHE="$work/gpu-cache-spirv" timeout 200 "$work/occlab-spirv" bench train \
            --backend wgpu "${batch_args[@]}" --repeats "$repeats" 2>&1 | grep -v XDG_RUNTIME_DIR
        echo "exit ${PIPESTATUS[0]}"
    } | tee -a "$OUT/env.txt"
fi

# --- 2d. mixed precision (f16 products, `--precision mixed`) with the SPIR-V build ----------------
# Tensor cores are reached through Vulkan's cooperative matrices, which only the SPIR-V kernels use
# and which take f16 operands: the whole step, the parts, and a full-MNIST epoch (accuracy).
mixed_bin="${OCCLAB_MIXED_BIN:-}"
if [ -z "$mixed_bin" ] && [ -f .gpu/occlab-spirv.xz ]; then
    [ -x "$work/occlab-spirv" ] || { xz -dc .gpu/occlab-spirv.xz > "$work/occlab-spirv" && chmod +x "$work/occlab-spirv"; }
    mixed_bin="$work/occlab-spirv"
fi
if want mixed && [ -n "$mixed_bin" ]; then
    export OCCLAB_GPU_CACHE="$work/gpu-cache-spirv"
    say "mixed precision: occlab bench train --precision mixed ${batch_args[*]} --repeats $repeats"
    timeout 240 "$mixed_bin" bench train --backend wgpu --precision mixed "${batch_args[@]}" \
        --repeats "$repeats" --json > "$work/mixed.json" 2> "$work/mixed.err"
    echo "exit $?"; grep -v XDG_RUNTIME_DIR "$work/mixed.err" | tail -5
    say "mixed precision: occlab bench ops --precision mixed"
    timeout 120 "$mixed_bin" bench ops --backend wgpu --precision mixed "${batch_args[@]}" \
        --repeats "$repeats" --json > "$work/mixed-ops.json" 2>> "$work/mixed.err"
    echo "exit $?"
    python3 - "$OUT/bench.json" "$work/mixed.json" "$work/mixed-ops.json" <<'PY'
import json, sys
try:
    bench = json.load(open(sys.argv[1]))
except Exception:
    bench = {"adapter": None, "figures": []}
for key, path in (("mixed", sys.argv[2]), ("mixed_ops", sys.argv[3])):
    try:
        got = json.load(open(path))
        bench[key] = got["figures"]
        bench[key + "_adapter"] = got.get("adapter")
    except Exception as e:
        bench[key + "_error"] = str(e)
json.dump(bench, open(sys.argv[1], "w"), indent=1)
PY
    export OCCLAB_GPU_CACHE="$work/gpu-cache"
fi

# --- 2c. where a CRNN step's GPU time goes: its parts, occlab and PyTorch side by side -----------
# `occlab bench ops` times each part (CNN unit, LSTM input projection, LSTM loop written out and as
# Burn's autodiff builds it, classifier + loss), forward + backward, synced, with its kernel
# launches and TFLOP/s; `crnn_torch.py --parts` the same parts in PyTorch CUDA eager.
: > "$work/ops.json"
if want ops; then
    say "occlab bench ops --backend wgpu ${batch_args[*]} --repeats $repeats"
    timeout 150 "$bin" bench ops --backend wgpu "${batch_args[@]}" --repeats "$repeats" --json \
        > "$work/ops.json" 2> "$work/ops.err"
    echo "exit $?"
    # Kept with the bench figures (bench.json's "ops"): the files that come back are few.
    python3 - "$OUT/bench.json" "$work/ops.json" <<'PY'
import json, sys
try:
    bench = json.load(open(sys.argv[1]))
except Exception:
    bench = {"adapter": None, "figures": []}
try:
    bench["ops"] = json.load(open(sys.argv[2]))["figures"]
except Exception as e:
    bench["ops_error"] = str(e)
json.dump(bench, open(sys.argv[1], "w"), indent=1)
PY
    if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
        for b in $batches; do
            PYTHONUNBUFFERED=1 timeout 60 python3 benches/reference/crnn_torch.py --device cuda \
                --models "" --parts --batch "$b" --repeats "$repeats" | grep '^PART' >> "$work/ops.txt"
        done
    fi
fi

# --- 3. PyTorch CUDA eager, same model, same batches ---------------------------------------------
: > "$OUT/torch.txt"
if ! want torch; then
    echo "PyTorch: not run this time (GPU_BENCH_STAGES)" > "$OUT/torch.txt"
elif python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    for b in $batches; do
        say "PyTorch CUDA eager, batch $b"
        PYTHONUNBUFFERED=1 timeout 150 python3 benches/reference/crnn_torch.py --device cuda \
            --batch "$b" --repeats "$repeats" | tee -a "$OUT/torch.txt"
    done
else
    say "no PyTorch with CUDA here: the PyTorch reference is skipped" | tee -a "$OUT/torch.txt"
fi

# --- 4. full-MNIST CRNN epochs, one per batch size in $train_batches -----------------------------
limit_args=()
[ -n "$train_limit" ] && limit_args=(--limit-sequences "$train_limit")
/usr/bin/env time -v true >/dev/null 2>&1 && timer=(/usr/bin/env time -v) || timer=()
: > "$OUT/train.txt"
: > "$OUT/metrics.jsonl"
# Each batch size in f32 with the WGSL binary; then, with the mixed-precision binary (step 2d),
# the first batch size in mixed precision (`--precision mixed`), to compare its accuracy.
runs=()
for tb in $train_batches; do runs+=("$tb:f32:$bin"); done
want mixed && [ -n "$mixed_bin" ] && runs+=("${train_batches%% *}:mixed:$mixed_bin")
for r in "${runs[@]}"; do
    want train || break
    tb=${r%%:*}; rest=${r#*:}; precision=${rest%%:*}; run_bin=${rest#*:}
    cache="$work/gpu-cache"; [ "$precision" = mixed ] && cache="$work/gpu-cache-spirv"
    say "occlab train: CRNN, full MNIST, 1 epoch, batch $tb, WGPU, $precision ${limit_args[*]}" | tee -a "$OUT/train.txt"
    OCCLAB_GPU_CACHE="$cache" timeout 200 "${timer[@]}" "$run_bin" train \
        --preset presets/paper-a/a1-mnist-patterned-crnn.toml --precision "$precision" \
        --data-dir "$data_dir" --backend wgpu --epochs 1 --batch "$tb" "${limit_args[@]}" \
        --out "$work/run-$tb-$precision" 2>&1 | grep -v XDG_RUNTIME_DIR | tr '\r' '\n' | grep -v '^epoch .*steps ' \
        | grep -v -E '^\s+(Average|Major|Minor|Voluntary|Involuntary|Swaps|File system|Socket|Signals|Page size|System time|User time)' \
        >> "$OUT/train.txt"
    grep '"kind":"epoch"\|"kind": "epoch"' "$work/run-$tb-$precision/metrics.jsonl" 2>/dev/null \
        | sed "s/^{/{\"batch\":$tb,\"precision\":\"$precision\",/" >> "$OUT/metrics.jsonl"
    # The epoch's images/s counts the first steps (kernels compiled and tuned); the steps after
    # them show the steady state (on a GPU the last batch is topped up to the same shape).
    python3 - "$work/run-$tb-$precision/metrics.jsonl" <<'PY' | tee -a "$OUT/train.txt"
import json, statistics, sys
steps = [r for r in map(json.loads, open(sys.argv[1])) if r.get("kind") == "step"]
ips = [s["images_per_second"] for s in steps]
mid = ips[len(ips) // 10 : len(ips) - len(ips) // 10] or ips
print(f"steady state: median {statistics.median(mid):.0f} img/s over steps {len(ips) // 10}..{len(ips) - len(ips) // 10} "
      f"(first step's group {ips[0]:.0f} img/s, last step's {ips[-1]:.0f})")
PY
done
cat "$OUT/train.txt"

# --- summary ------------------------------------------------------------------------------------
say "summary"
python3 - "$OUT" "$work" <<'EOF' | tee "$OUT/summary.md"
import json, os, re, sys
out, work = sys.argv[1], sys.argv[2]
# Forward + backward ≈ 3 × forward FLOP per 28×28 image (paper A's models, docs/PERFORMANCE.md):
# CRNN 55.6 MFLOP forward (conv2 28.9, LSTM input projection 25.7), CNN 32.6 MFLOP.
FLOP = {"CRNN": 166.7e6, "CNN": 97.7e6}
PEAK = 67e12  # H100/H200 SXM FP32 without tensor cores, published
try:
    bench = json.load(open(os.path.join(out, "bench.json")))
except Exception as e:
    bench = {"adapter": None, "figures": []}
    print(f"(no occlab figures: {e})")
adapter = bench.get("adapter") or {}
print(f"adapter: {adapter.get('name')} · {adapter.get('api')} · {adapter.get('kind')}; "
      f"driver {adapter.get('driver')} {adapter.get('driver_info')}")
occ = {}
for f in bench["figures"]:
    m = re.match(r"\s*(\w+) train step, (\d+)×5", f["name"])
    if m:
        occ.setdefault((m[1], int(m[2])), {})["step"] = f["per_second"]
    m = re.match(r"\s*(\w+) (\d+)×5: \d+ steps back to back,( not flushed,)?", f["name"])
    if m:
        occ.setdefault((m[1], int(m[2])), {})["unflushed" if m[3] else "pipelined"] = f["per_second"]
torch = {}
for line in open(os.path.join(out, "torch.txt")):
    if line.startswith("RESULT "):
        kv = dict(p.split("=", 1) for p in line.split()[1:])
        torch[(kv["model"], int(kv["batch"]))] = kv
print()
print("| model | batch | occlab img/s (step, synced) | occlab img/s (back to back, flushed each step) | (not flushed) | PyTorch CUDA img/s (step / back to back) | occlab / PyTorch (back to back) | % of FP32 peak (occlab) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for (model, batch), o in sorted(occ.items()):
    t = torch.get((model, batch))
    tp = float(t["pipelined_images_per_s"]) if t else None
    ts = float(t["images_per_s"]) if t else None
    best = o.get("pipelined") or o.get("step") or 0
    ratio = f"{best / tp:.2f}" if tp else "–"
    tcol = f"{ts:.0f} / {tp:.0f}" if t else "–"
    print(f"| {model} | {batch}×5 | {o.get('step', 0):.0f} | {o.get('pipelined', 0):.0f} | {o.get('unflushed', 0):.0f} | {tcol} | {ratio} | "
          f"{100 * best * FLOP.get(model, 0) / PEAK:.2f} % |")
print()
for f in bench["figures"]:
    if f.get("launches_per_step"):
        print(f"{f['name'].strip()}: {f['launches_per_step']:.0f} kernel launches per step")
        for name, n in f.get("top_kernels", [])[:6]:
            print(f"    {n:6.1f}  {name[:90]}")
# The parts of a CRNN step (occlab bench ops) beside PyTorch's (crnn_torch.py --parts).
ops = bench.get("ops") or []
if not ops:
    print(f"(no occlab bench ops figures: {bench.get('ops_error', 'stage not run')})")
torch_parts = {}
if os.path.exists(os.path.join(work, "ops.txt")):
    for line in open(os.path.join(work, "ops.txt")):
        m = re.match(r'PART name="([^"]+)" batch=(\d+) median_ms=([\d.]+)( tflops=([\d.]+))?', line)
        if m:
            torch_parts[(m[1], int(m[2]))] = (float(m[3]), m[5])
if ops:
    print()
    print("| part (forward + backward) | batch | occlab ms | occlab TFLOP/s | launches | PyTorch ms | PyTorch TFLOP/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for f in ops:
        m = re.match(r"\s*(.+), (\d+)×5, forward \+ backward", f["name"])
        if not m:
            continue
        name, batch = m[1], int(m[2])
        key = "LSTM loop, eager autograd" if name.startswith("LSTM loop") else name
        t = torch_parts.get((key, batch))
        tf = f.get("per_second")
        print(f"| {name} | {batch}×5 | {f['median_ms']:.2f} | {tf:.2f} |" if tf else f"| {name} | {batch}×5 | {f['median_ms']:.2f} | – |", end="")
        print(f" {f.get('launches_per_step') or 0:.0f} | {t[0]:.2f} | {t[1] or '–'} |" if t else f" {f.get('launches_per_step') or 0:.0f} | – | – |")
    for f in ops:
        if "LSTM loop" in f["name"]:
            print(f"\n{f['name'].strip()}: most launched kernels")
            for name, n in f.get("top_kernels", [])[:8]:
                print(f"    {n:6.0f}  {name[:100]}")
# Mixed precision (SPIR-V build, f16 products) beside f32.
mixed = {}
for f in bench.get("mixed") or []:
    m = re.match(r"\s*(\w+) \(mixed precision\) train step, (\d+)×5", f["name"])
    if m:
        mixed.setdefault((m[1], int(m[2])), {})["step"] = f["per_second"]
    m = re.match(r"\s*(\w+) \(mixed precision\) (\d+)×5: \d+ steps back to back, flushed", f["name"])
    if m:
        mixed.setdefault((m[1], int(m[2])), {})["pipelined"] = f["per_second"]
        mixed[(m[1], int(m[2]))]["launches"] = f.get("launches_per_step")
if mixed:
    print()
    print("| model | batch | mixed img/s (step, synced) | mixed img/s (back to back, flushed) | launches | f32 (WGSL) back to back | PyTorch back to back | mixed / PyTorch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for (model, batch), o in sorted(mixed.items()):
        t = torch.get((model, batch))
        tp = float(t["pipelined_images_per_s"]) if t else None
        f32 = occ.get((model, batch), {}).get("pipelined")
        best = o.get("pipelined") or o.get("step") or 0
        print(f"| {model} | {batch}×5 | {o.get('step', 0):.0f} | {o.get('pipelined', 0):.0f} | {o.get('launches') or 0:.0f} | "
              f"{f32 or 0:.0f} | {f'{tp:.0f}' if tp else '–'} | {f'{best / tp:.2f}' if tp else '–'} |")
elif bench.get("mixed_error"):
    print(f"(no mixed-precision figures: {bench['mixed_error']})")
mixed_ops = bench.get("mixed_ops") or []
if mixed_ops:
    print()
    print("| part, mixed precision (forward + backward) | batch | ms | TFLOP/s | launches |")
    print("|---|---:|---:|---:|---:|")
    for f in mixed_ops:
        m = re.match(r"\s*(.+), (\d+)×5, forward \+ backward", f["name"])
        if m:
            tf = f.get("per_second")
            print(f"| {m[1]} | {m[2]}×5 | {f['median_ms']:.2f} | {f'{tf:.2f}' if tf else '–'} | {f.get('launches_per_step') or 0:.0f} |")
print()
print(open(os.path.join(out, "starts.txt")).read().strip())
epochs = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))] if os.path.exists(os.path.join(out, "metrics.jsonl")) else []
for e in (e for e in epochs if e.get("kind") == "epoch"):
    tr, te = e["train"], e["test"]
    overall = te.get("overall") or {}
    acc = overall["correct"] / overall["total"] if overall.get("total") else None
    print(f"\nfull-MNIST CRNN epoch {e['epoch']} (batch {e.get('batch')}, {e.get('precision', 'f32')}): train {e['train_seconds']:.1f} s at {e['images_per_second']:.0f} img/s, "
          f"evaluation {e['eval_seconds']:.1f} s" + (f", test accuracy {100 * acc:.2f} %" if acc is not None else ""))
EOF
rm -rf "$work"
say "done"
