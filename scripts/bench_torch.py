#!/usr/bin/env python3
"""PyTorch reference for `minrl bench speed`: the same workloads on the same CPU.

Times one training step (forward + backward of sum(y * dy)) of a single layer at
B=64, d=128 for each sequence length, and prints a Markdown table of median
milliseconds, so the ratio to minrl can be measured side by side:

    /usr/bin/python3 scripts/bench_torch.py            # Debian's python3-torch
    /usr/bin/python3 scripts/bench_torch.py --T 256 1024 --repeats 5

Models:
  gru, lstm          torch.nn.GRU / nn.LSTM (batch_first, one layer): PyTorch's
                     best CPU recurrent layers, the paper's baselines.
  mingru-log         minGRU in the paper's log-space parallel form
                     (logcumsumexp), as the official code runs it.
  mingru-seq         minGRU as a sequential loop written well (unbind + lerp),
                     the fastest PyTorch form on a CPU.
  minlstm-log        minLSTM, log-space parallel form.

Debian's OpenBLAS 0.3.21 misdetects recent CPUs as Prescott (5x slower SGEMM);
this script sets OPENBLAS_CORETYPE before torch loads it unless you set it.
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX" if "avx512f" in open("/proc/cpuinfo").read() else "Haswell")

import torch  # noqa: E402  (after the environment is set)
import torch.nn.functional as F  # noqa: E402


def g(x):
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x):
    return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))


def heinsen(log_coeffs, log_values):
    a_star = log_coeffs.cumsum(dim=1)
    log_h = a_star + torch.logcumsumexp(log_values - a_star, dim=1)
    return log_h.exp()


class MinGRULog(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.proj = torch.nn.Linear(d, 2 * d)

    def forward(self, x):
        k, u = self.proj(x).chunk(2, dim=-1)
        return heinsen(-F.softplus(k), -F.softplus(-k) + log_g(u))


class MinLSTMLog(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.proj = torch.nn.Linear(d, 3 * d)

    def forward(self, x):
        kf, ki, u = self.proj(x).chunk(3, dim=-1)
        diff = F.softplus(-kf) - F.softplus(-ki)
        return heinsen(-F.softplus(diff), -F.softplus(-diff) + log_g(u))


class MinGRUSeq(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.proj = torch.nn.Linear(d, 2 * d)

    def forward(self, x):
        k, u = self.proj(x).chunk(2, dim=-1)
        z, cand = torch.sigmoid(k), g(u)
        h = torch.zeros_like(z[:, 0])
        out = []
        for zt, ct in zip(z.unbind(1), cand.unbind(1)):
            h = torch.lerp(h, ct, zt)
            out.append(h)
        return torch.stack(out, dim=1)


class RNN(torch.nn.Module):
    def __init__(self, cls, d):
        super().__init__()
        self.rnn = cls(d, d, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0]


MODELS = {
    "gru": lambda d: RNN(torch.nn.GRU, d),
    "lstm": lambda d: RNN(torch.nn.LSTM, d),
    "mingru-log": MinGRULog,
    "mingru-seq": MinGRUSeq,
    "minlstm-log": MinLSTMLog,
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--T", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--json", help="also write the medians (ms) to this JSON file")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}, B={a.batch} d={a.dim}, "
          f"median of {a.repeats} after a warm-up", file=sys.stderr)
    rows = []
    for T in a.T:
        x = torch.randn(a.batch, T, a.dim, requires_grad=True)
        dy = torch.randn(a.batch, T, a.dim)
        row = [T]
        for name in a.models:
            m = MODELS[name](a.dim)
            times = []
            for r in range(a.repeats + 1):
                t0 = time.perf_counter()
                y = m(x)
                (y * dy).sum().backward()
                t = time.perf_counter() - t0
                if r > 0:
                    times.append(t)
                m.zero_grad(set_to_none=True)
                x.grad = None
            row.append(1000 * statistics.median(times))
            print(f"T={T} {name}: {row[-1]:.1f} ms", file=sys.stderr)
        rows.append(row)
    if a.json:
        import json
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(),
                       "openblas_coretype": os.environ["OPENBLAS_CORETYPE"], "B": a.batch, "d": a.dim,
                       "ms": {m: {str(r[0]): r[1 + i] for r in rows} for i, m in enumerate(a.models)}}, f, indent=1)
    print("| T | " + " | ".join(f"{m} ms" for m in a.models) + " |")
    print("|---:|" + "---:|" * len(a.models))
    for row in rows:
        print(f"| {row[0]} | " + " | ".join(f"{v:.1f}" for v in row[1:]) + " |")


if __name__ == "__main__":
    main()
