#!/usr/bin/env python3
"""PyTorch reference for occlab's CPU training throughput: paper A's CRNN and CNN, same layers.

Mirrors src/model/{mod.rs,cnn.rs,crnn.rs} and `occlab bench train` (src/bench.rs):

  CNN unit (per image): Conv2d(1→32, 3×3, same) → ReLU → Conv2d(32→64, 3×3, same) → ReLU
                        → MaxPool(2×2) → Dropout(0.25) → flatten (c = 14·14·64 = 12,544)
  CRNN head: LSTM(c → 256, biases on input and hidden transforms, batch first)
             → Dropout(0.25) → Linear(256 → 10) at every step
  CNN head:  Linear(c → 128) → ReLU → Dropout(0.5) → Linear(128 → 10), each image alone

One train step: batch of 32 sequences × T = 5 images of 1×28×28 (160 images), mean cross-entropy
over all steps, backward, Adam (lr 1e-3). Two warm-up steps, then the median of N timed steps.

Parseable lines (one per model):
  RESULT model=CRNN params=13130634 median_ms=... min_ms=... images_per_s=... forward_ms=... ...
  (`pipelined_images_per_s`: the same number of steps back to back, one sync at the end, as
  `occlab bench train`'s last figure; `device`, `batch`.)

  python crnn_torch.py [--threads 2] [--repeats 7] [--models CRNN,CNN] [--ops] [--profile]
                       [--device cpu|cuda] [--batch 32] [--parts]

--parts times the parts of `occlab bench ops` (CNN unit, LSTM input projection, LSTM loop,
classifier + loss), forward + backward each: `PART name=... batch=... median_ms=... tflops=...`.

--device cuda runs PyTorch CUDA eager (the GPU reference of docs/PERFORMANCE.md): every phase
boundary waits for the GPU (torch.cuda.synchronize) so the phases are timed, not queued.
"""

import argparse
import os
import statistics
import time

# Quiet the profiler's "gpuGetDeviceCount failed" line on machines without a GPU.
os.environ.setdefault("KINETO_LOG_LEVEL", "5")

import torch
from torch import nn

BATCH, STEPS, CLASSES = 32, 5, 10
IMAGES = BATCH * STEPS
DEVICE = torch.device("cpu")


def sync():
    """Waits for the GPU's queue (no-op on the CPU)."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()

# Parameter counts of occlab's models (ModelConfig::new(kind, 1, 28, 28, 10), defaults),
# computed from the code: conv1 1·32·9+32 = 320, conv2 32·64·9+64 = 18,496;
# Burn's LSTM: 4 gates × (input Linear 12,544·256+256 + hidden Linear 256·256+256) = 13,109,248;
# CRNN output 256·10+10 = 2,570; CNN dense 12,544·128+128 = 1,605,760 and 128·10+10 = 1,290.
# `occlab train` prints the same numbers ("(N parameters)").
OCCLAB_PARAMS = {"CRNN": 13_130_634, "CNN": 1_625_866}


class CnnUnit(nn.Module):
    def __init__(self, in_channels=1, filters=(32, 64), dropout=0.25):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, filters[0], 3, padding=1)
        self.conv2 = nn.Conv2d(filters[0], filters[1], 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):  # [n, C, H, W] -> [n, c]
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = self.dropout(self.pool(x))
        return x.flatten(1)


class Crnn(nn.Module):
    def __init__(self, features=14 * 14 * 64, hidden=256, classes=CLASSES):
        super().__init__()
        self.unit = CnnUnit()
        # PyTorch's LSTM has bias_ih and bias_hh, like Burn's two biased Linear per gate.
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.dropout = nn.Dropout(0.25)
        self.output = nn.Linear(hidden, classes)

    def forward(self, images):  # [B, T, C, H, W] -> [B, T, classes]
        b, t = images.shape[:2]
        f = self.unit(images.reshape(b * t, *images.shape[2:]))
        x, _ = self.lstm(f.reshape(b, t, -1))
        return self.output(self.dropout(x))


class Cnn(nn.Module):
    def __init__(self, features=14 * 14 * 64, hidden=128, classes=CLASSES):
        super().__init__()
        self.unit = CnnUnit()
        self.hidden = nn.Linear(features, hidden)
        self.dropout = nn.Dropout(0.5)
        self.output = nn.Linear(hidden, classes)

    def forward(self, images):
        b, t = images.shape[:2]
        f = self.unit(images.reshape(b * t, *images.shape[2:]))
        x = self.dropout(torch.relu(self.hidden(f)))
        return self.output(x).reshape(b, t, -1)


MODELS = {"CRNN": Crnn, "CNN": Cnn}


def params(model):
    return sum(p.numel() for p in model.parameters())


def batch():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(BATCH, STEPS, 1, 28, 28, generator=g)
    y = (torch.arange(IMAGES) % CLASSES).reshape(BATCH, STEPS)
    return x.to(DEVICE), y.to(DEVICE)


def train_step_timed(model, optim, x, y):
    """One step; returns (forward, backward, adam, total) seconds."""
    t0 = time.perf_counter()
    logits = model(x)
    loss = nn.functional.cross_entropy(logits.reshape(-1, CLASSES), y.reshape(-1))
    loss.item()
    t1 = time.perf_counter()
    optim.zero_grad(set_to_none=True)
    loss.backward()
    sync()
    t2 = time.perf_counter()
    optim.step()
    sync()
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2, t3 - t0


def bench_model(name, repeats, warmup=2):
    torch.manual_seed(1)
    model = MODELS[name]().to(DEVICE)
    n = params(model)
    if n != OCCLAB_PARAMS[name]:
        raise SystemExit(f"{name}: {n} parameters, occlab's has {OCCLAB_PARAMS[name]}")
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = batch()
    for _ in range(warmup):
        train_step_timed(model, optim, x, y)
    samples = [train_step_timed(model, optim, x, y) for _ in range(repeats)]
    fwd, bwd, adam, total = (statistics.median(s[i] for s in samples) for i in range(4))
    tmin = min(s[3] for s in samples)
    # The same number of steps back to back, one sync at the end (no loss read back).
    sync()
    t0 = time.perf_counter()
    for _ in range(repeats):
        loss = nn.functional.cross_entropy(model(x).reshape(-1, CLASSES), y.reshape(-1))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
    sync()
    pipelined = IMAGES * repeats / (time.perf_counter() - t0)
    print(
        f"RESULT model={name} params={n} median_ms={total * 1e3:.1f} min_ms={tmin * 1e3:.1f} "
        f"images_per_s={IMAGES / total:.1f} forward_ms={fwd * 1e3:.1f} "
        f"backward_ms={bwd * 1e3:.1f} adam_ms={adam * 1e3:.1f} repeats={repeats} "
        f"pipelined_images_per_s={pipelined:.1f} device={DEVICE.type} batch={BATCH}",
        flush=True,
    )
    return model, optim, x, y


def timed(f, warmup=2, repeats=5):
    for _ in range(warmup):
        f()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def report(name, d, flops=0.0):
    rate = f"  {flops / d / 1e9:6.1f} GFLOP/s" if flops else ""
    print(f"  OP {name:<52} {d * 1e3:8.1f} ms{rate}", flush=True)


def ops():
    """The per-op micro timings of examples/flex_spike.rs (`ops`), same shapes, in PyTorch."""
    print(f"\nper-op timings on PyTorch CPU ({torch.get_num_threads()} threads), {IMAGES} images of 28×28:")
    n = IMAGES
    conv_bwd = torch.ops.aten.convolution_backward
    with torch.no_grad():
        for name, cin, cout in [("conv1 1→32", 1, 32), ("conv2 32→64", 32, 64)]:
            x = torch.rand(n, cin, 28, 28)
            w = torch.rand(cout, cin, 3, 3)
            g = torch.rand(n, cout, 28, 28)
            flops = 2.0 * n * cout * 28 * 28 * cin * 9
            report(f"{name} forward", timed(lambda: torch.conv2d(x, w, None, 1, 1)), flops)
            args = (g, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1)
            report(
                f"{name} backward input",
                timed(lambda: conv_bwd(*args, [True, False, False])),
                flops,
            )
            report(
                f"{name} backward weight",
                timed(lambda: conv_bwd(*args, [False, True, False])),
                flops,
            )
        x = torch.rand(n, 64, 28, 28)
        report("max_pool2d 2×2 forward (with indices)",
               timed(lambda: torch.nn.functional.max_pool2d(x, 2, return_indices=True)))
        out, idx = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
        g = torch.rand(n, 64, 14, 14)
        report("max_pool2d 2×2 backward",
               timed(lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                   g, x, [2, 2], [2, 2], [0, 0], [1, 1], False, idx)))
        report("relu [160, 64, 28, 28]", timed(lambda: torch.relu(x)))

    c = 14 * 14 * 64
    lstm = nn.LSTM(c, 256, batch_first=True)
    xs = torch.rand(BATCH, STEPS, c)
    flops = 2.0 * IMAGES * 4 * 256 * (c + 256)
    with torch.no_grad():
        report("LSTM 12544→256, T=5, forward", timed(lambda: lstm(xs)), flops)

    def lstm_fb():
        xi = xs.clone().requires_grad_()
        h, _ = lstm(xi)
        h.sum().backward()

    report("LSTM forward+backward (autograd, input grad)", timed(lstm_fb), 3 * flops)
    a = torch.rand(IMAGES, c)
    b = torch.rand(c, 1024)
    report("matmul [160, 12544] × [12544, 1024]", timed(lambda: a @ b), 2.0 * IMAGES * c * 1024)

    unit = CnnUnit()
    xi = torch.rand(n, 1, 28, 28)
    report("CNN unit forward (autograd)", timed(lambda: unit(xi)))
    report("CNN unit forward+backward (autograd)", timed(lambda: unit(xi).sum().backward()))

    # Adam on the CRNN's parameters (13.1 M).
    model = Crnn()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    for p in model.parameters():
        p.grad = torch.rand_like(p)
    report("Adam step, CRNN parameters (13.1 M)", timed(optim.step))


def parts(repeats):
    """The parts of `occlab bench ops` (src/bench.rs, `crnn_parts`) on DEVICE, same shapes, each
    forward + backward with a dense random upstream gradient, synced. Parseable lines:
      PART name="..." batch=N median_ms=... tflops=...
    """
    n, c, d = IMAGES, 14 * 14 * 64, 256
    dev = DEVICE

    def rnd(*shape, grad=False):
        return torch.rand(*shape, device=dev).requires_grad_(grad)

    unit = CnnUnit(dropout=0.0).to(dev)
    images, cnn_r = rnd(n, 1, 28, 28), rnd(n, c)
    projection = nn.Linear(c, 4 * d).to(dev)
    features, proj_r = rnd(n, c, grad=True), rnd(n, 4 * d)
    projected, recurrent = rnd(BATCH, STEPS, 4 * d, grad=True), (rnd(d, 4 * d) * 0.05).requires_grad_()
    loop_r = rnd(BATCH, STEPS, d)
    classifier = nn.Linear(d, CLASSES).to(dev)
    hidden = rnd(BATCH, STEPS, d, grad=True)
    labels = torch.arange(n, device=dev).remainder(CLASSES)

    def loop():
        h = c_ = None
        out = []
        for t in range(STEPS):
            z = projected[:, t] if h is None else projected[:, t] + h @ recurrent
            i, f, o = (torch.sigmoid(z[:, k * d:(k + 1) * d]) for k in range(3))
            g = torch.tanh(z[:, 3 * d:])
            c_ = i * g if c_ is None else f * c_ + i * g
            h = o * torch.tanh(c_)
            out.append(h)
        return torch.stack(out, 1)

    pixels = n * 28 * 28
    table = [
        ("CNN unit (conv 1→32, conv 32→64, pool)", 2.0 * pixels * (2 * 32 * 9 + 3 * 64 * 32 * 9),
         lambda: (unit(images) * cnn_r).sum().backward()),
        ("LSTM input projection [n, 12544]×[12544, 1024]", 3 * 2.0 * n * c * 4 * d,
         lambda: (projection(features) * proj_r).sum().backward()),
        ("LSTM loop, eager autograd", 3 * 2.0 * BATCH * (STEPS - 1) * d * 4 * d,
         lambda: (loop() * loop_r).sum().backward()),
        ("classifier 256→10 + cross-entropy", 0.0,
         lambda: nn.functional.cross_entropy(classifier(hidden).reshape(n, CLASSES), labels).backward()),
    ]
    for name, flop, f in table:
        def run():
            f()
            sync()
        median = timed(run, warmup=3, repeats=repeats)
        rate = f" tflops={flop / median / 1e12:.3f}" if flop else ""
        print(f'PART name="{name}" batch={BATCH} median_ms={median * 1e3:.3f}{rate}', flush=True)


def profile(model, optim, x, y, name):
    from torch.profiler import ProfilerActivity, profile as prof

    with prof(activities=[ProfilerActivity.CPU]) as p:
        for _ in range(3):
            train_step_timed(model, optim, x, y)
    print(f"\ntorch.profiler, {name}, 3 train steps (self CPU time, top 15):")
    print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--models", default="CRNN,CNN", help="comma-separated; empty for none")
    ap.add_argument("--ops", action="store_true", help="per-op micro timings (as flex_spike ops)")
    ap.add_argument("--profile", action="store_true", help="torch.profiler table per model")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to train")
    ap.add_argument("--batch", type=int, default=32, help="sequences of 5 images per batch")
    ap.add_argument("--parts", action="store_true", help="the parts of `occlab bench ops`, timed")
    args = ap.parse_args()
    global BATCH, IMAGES, DEVICE
    if args.batch < 1:
        raise SystemExit("--batch must be at least 1")
    BATCH, IMAGES = args.batch, args.batch * STEPS
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: PyTorch sees no CUDA device")
    DEVICE = torch.device(args.device)
    torch.set_num_threads(args.threads)
    print(
        f"PyTorch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
        f"MKL-DNN {torch.backends.mkldnn.is_available()}, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, device {DEVICE}"
        + (f" ({torch.cuda.get_device_name(DEVICE)})" if DEVICE.type == "cuda" else "")
        + f", batch {BATCH}×{STEPS}",
        flush=True,
    )
    for name in filter(None, (m.strip().upper() for m in args.models.split(","))):
        state = bench_model(name, args.repeats)
        if args.profile:
            profile(*state, name)
    if args.ops:
        ops()
    if args.parts:
        parts(args.repeats)


if __name__ == "__main__":
    main()
