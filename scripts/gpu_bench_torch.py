#!/usr/bin/env python3
"""PyTorch side of minrl's GPU benchmarks, on the same GPU in the same run.

One training step (forward + backward, weight gradients included) of one
layer at B=64, d=128: nn.GRU (cuDNN), and the paper's log-space minGRU and
minLSTM (the official minGRU-pytorch formulation: a Linear projection,
log-space gates, the Heinsen scan with cumsum and logcumsumexp), in float32
(TF32 off, as minrl's kernels are plain float32). Also a device-to-device
copy, the bandwidth reference. Prints a JSON document.

    python3 scripts/gpu_bench_torch.py [--T 512,4096,16384] [--repeats 10]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def heinsen_scan(log_coeffs, log_values):
    a_star = log_coeffs.cumsum(dim=1)
    log_h0_plus_b_star = (log_values - a_star).logcumsumexp(dim=1)
    return (a_star + log_h0_plus_b_star).exp()


def log_g(x):
    return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))


class MinGRULog(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.proj = nn.Linear(d, 2 * d)

    def forward(self, x):
        k, h = self.proj(x).chunk(2, dim=-1)
        log_z = -F.softplus(-k)
        log_coeffs = -F.softplus(k)
        return heinsen_scan(log_coeffs, log_z + log_g(h))


class MinLSTMLog(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.proj = nn.Linear(d, 3 * d)

    def forward(self, x):
        f, i, h = self.proj(x).chunk(3, dim=-1)
        diff = F.softplus(-f) - F.softplus(-i)
        log_f = -F.softplus(diff)
        log_i = -F.softplus(-diff)
        return heinsen_scan(log_f, log_i + log_g(h))


class GRU(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.rnn = nn.GRU(d, d, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0]


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def time_step(model, x, dy, repeats):
    for _ in range(3):
        model.zero_grad(set_to_none=True)
        model(x).backward(dy)
    sync()
    times = []
    for _ in range(repeats):
        model.zero_grad(set_to_none=True)
        sync()
        t0 = time.perf_counter()
        model(x).backward(dy)
        sync()
        times.append(time.perf_counter() - t0)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", default="512,4096,16384")
    ap.add_argument("--B", type=int, default=64)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--device", default="cuda", help="cuda, or cpu to check the script")
    ap.add_argument("--copy-elems", type=int, default=128 << 20)
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device(args.device)
    torch.manual_seed(0)
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"
    out = {"device": name, "torch": torch.__version__,
           "cudnn": torch.backends.cudnn.version(), "B": args.B, "d": args.d, "results": []}
    models = {"gru-cudnn": GRU, "mingru-log": MinGRULog, "minlstm-log": MinLSTMLog}
    for T in [int(t) for t in args.T.split(",")]:
        x = torch.randn(args.B, T, args.d, device=dev, requires_grad=True)
        dy = torch.randn(args.B, T, args.d, device=dev)
        for name, cls in models.items():
            m = cls(args.d).to(dev)
            try:
                ts = time_step(m, x, dy, args.repeats)
                out["results"].append({"model": name, "T": T, "median_ms": 1e3 * statistics.median(ts),
                                       "ms": [1e3 * t for t in ts]})
            except RuntimeError as e:  # out of memory
                out["results"].append({"model": name, "T": T, "error": str(e)[:200]})
            del m
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    # Device-to-device copy of 128M floats (512 MB), bytes read + written.
    n = args.copy_elems
    src = torch.ones(n, device=dev)
    dst = torch.empty_like(src)
    ts = []
    for r in range(6):
        sync()
        t0 = time.perf_counter()
        for _ in range(10):
            dst.copy_(src)
        sync()
        if r > 0:
            ts.append((time.perf_counter() - t0) / 10)
    out["copy_GBps"] = 8 * n / statistics.median(ts) / 1e9
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
