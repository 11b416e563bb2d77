#!/usr/bin/env python3
"""PyTorch reference for minrl's decision models: training step and act latency.

The same architecture as policy.Decision (DT-style (R, s, a) tokens with a timestep embedding,
LayerNorm, N blocks, final LayerNorm, tanh head on the state tokens):
  dt        GPT-2 blocks (pre-LN causal self-attention + ReLU MLP), as the Decision Transformer
  mingru    blocks x += minGRU(LN(x)); x += MLP(LN(x)) with GELU, minGRU in the paper's log-space
            parallel form for training (as the official code), its sequential form for stateful acting
  minlstm   the same with minLSTM
  mingru-seq, minlstm-seq
            training only: the same models with the scan written as a sequential loop in linear
            space (unbind + lerp), the faster PyTorch form on a CPU at these lengths
            (docs/benchmarks.md), so that the ratio is reported against both

    /usr/bin/python3 scripts/bench_torch_decision.py          # Debian's python3-torch
    /usr/bin/python3 scripts/bench_torch_decision.py --json out.json

Measures (median of --repeats after a warm-up): one training step (forward, masked MSE, backward,
AdamW) at B=64, K=20, embed 128, 3 layers, obs 11, act 3; and one acting step for n = 1 and 16
episodes: DT and the minRNNs in window mode re-run the last K steps; the minRNNs in episode mode
feed the new tokens through their recurrent state (O(1) per step).
"""
import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX" if "avx512f" in open("/proc/cpuinfo").read() else "Haswell")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import g, heinsen, log_g  # noqa: E402  (the minGRU pieces, shared)


class MinRNN(nn.Module):
    def __init__(self, d, lstm, seq=False):
        super().__init__()
        self.lstm, self.seq = lstm, seq
        self.proj = nn.Linear(d, (3 if lstm else 2) * d)

    def coeffs(self, x):
        if self.lstm:
            kf, ki, u = self.proj(x).chunk(3, dim=-1)
            diff = F.softplus(-kf) - F.softplus(-ki)
            return -F.softplus(diff), -F.softplus(-diff) + log_g(u)
        k, u = self.proj(x).chunk(2, dim=-1)
        return -F.softplus(k), -F.softplus(-k) + log_g(u)

    def forward(self, x):
        if self.seq:
            return self.forward_seq(x)
        la, lb = self.coeffs(x)  # parallel (log-space) over the sequence
        return heinsen(la, lb)

    def forward_seq(self, x):  # h_t = a_t h_{t-1} + b_t as a loop, in linear space
        if self.lstm:
            kf, ki, u = self.proj(x).chunk(3, dim=-1)
            f, i = torch.sigmoid(kf), torch.sigmoid(ki)
            a, b = f / (f + i), i / (f + i) * g(u)
        else:
            k, u = self.proj(x).chunk(2, dim=-1)
            z = torch.sigmoid(k)
            a, b = 1 - z, z * g(u)
        h = torch.zeros_like(a[:, 0])
        out = []
        for at, bt in zip(a.unbind(1), b.unbind(1)):
            h = torch.addcmul(bt, at, h)
            out.append(h)
        return torch.stack(out, dim=1)

    def step(self, x, h):  # sequential: one token, state h
        if self.lstm:
            kf, ki, u = self.proj(x).chunk(3, dim=-1)
            f, i = torch.sigmoid(kf), torch.sigmoid(ki)
            return f / (f + i) * h + i / (f + i) * g(u)
        k, u = self.proj(x).chunk(2, dim=-1)
        z = torch.sigmoid(k)
        return (1 - z) * h + z * g(u)


class RNNBlock(nn.Module):
    def __init__(self, d, lstm, p, seq=False):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.rnn = MinRNN(d, lstm, seq)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d), nn.Dropout(p))
        self.drop = nn.Dropout(p)

    def forward(self, x):
        x = x + self.drop(self.rnn(self.ln1(x)))
        return x + self.mlp(self.ln2(x))

    def step(self, x, h):
        h = self.rnn.step(self.ln1(x), h)
        x = x + h
        return x + self.mlp(self.ln2(x)), h


class GPTBlock(nn.Module):
    def __init__(self, d, heads, p):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, dropout=p, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.ReLU(), nn.Linear(4 * d, d), nn.Dropout(p))
        self.drop = nn.Dropout(p)

    def forward(self, x):
        T = x.shape[1]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        y = self.ln1(x)
        x = x + self.drop(self.attn(y, y, y, attn_mask=mask, need_weights=False)[0])
        return x + self.mlp(self.ln2(x))


class Decision(nn.Module):
    def __init__(self, kind, obs, act, d=128, layers=3, heads=1, p=0.1, max_ep_len=1000):
        super().__init__()
        self.emb_t = nn.Embedding(max_ep_len, d)
        self.emb_r, self.emb_s, self.emb_a = nn.Linear(1, d), nn.Linear(obs, d), nn.Linear(act, d)
        self.ln, self.drop = nn.LayerNorm(d), nn.Dropout(p)
        if kind == "dt":
            self.blocks = nn.ModuleList([GPTBlock(d, heads, p) for _ in range(layers)])
        else:
            rnn, seq = kind.removesuffix("-seq"), kind.endswith("-seq")
            self.blocks = nn.ModuleList([RNNBlock(d, rnn == "minlstm", p, seq) for _ in range(layers)])
        self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, act)

    def tokens(self, R, s, a, t):
        e = self.emb_t(t)
        x = torch.stack([self.emb_r(R) + e, self.emb_s(s) + e, self.emb_a(a) + e], dim=2)
        return self.drop(self.ln(x.reshape(x.shape[0], -1, x.shape[-1])))

    def forward(self, R, s, a, t):
        x = self.tokens(R, s, a, t)
        for b in self.blocks:
            x = b(x)
        return torch.tanh(self.head(self.ln_f(x)[:, 1::3]))

    def step(self, tok, hs):  # one token [n, d] through the blocks' step paths
        x = tok
        for i, b in enumerate(self.blocks):
            x, hs[i] = b.step(x, hs[i])
        return self.ln_f(x)


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    B, K, OBS, ACT = 64, 20, 11, 3
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "train_ms": {}, "act_ms": {}}
    for kind in ["dt", "mingru", "minlstm", "mingru-seq", "minlstm-seq"]:
        m = Decision(kind, OBS, ACT)
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4, weight_decay=1e-4)
        R, s, act = torch.randn(B, K, 1), torch.randn(B, K, OBS), torch.rand(B, K, ACT) * 2 - 1
        t, mask = torch.randint(0, 1000, (B, K)), torch.ones(B, K, 1)

        def train_step():
            m.train()
            pred = m(R, s, act, t)
            loss = (((pred - act) ** 2) * mask).sum() / (mask.sum() * ACT)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 0.25)
            opt.step()

        out["train_ms"][kind] = median_ms(train_step, a.repeats)
        print(f"train {kind}: {out['train_ms'][kind]:.1f} ms/step", file=sys.stderr)
        if kind.endswith("-seq"):
            continue  # acting is the same as the log-space model's
        m.eval()
        for n in [1, 16]:
            Rw, sw, aw, tw = torch.randn(n, K, 1), torch.randn(n, K, OBS), torch.randn(n, K, ACT), torch.randint(0, 1000, (n, K))

            @torch.no_grad()
            def act_window():
                return m(Rw, sw, aw, tw)[:, -1]

            key = f"{kind}/window/n={n}"
            out["act_ms"][key] = median_ms(act_window, a.repeats * 5)
            print(f"act {key}: {out['act_ms'][key]:.2f} ms/step", file=sys.stderr)
            if kind != "dt":
                hs = [torch.zeros(n, 128) for _ in m.blocks]
                r1, s1, a1, t1 = torch.randn(n, 1), torch.randn(n, OBS), torch.randn(n, ACT), torch.zeros(n, dtype=torch.long)

                @torch.no_grad()
                def act_episode():
                    e = m.emb_t(t1)
                    m.step(m.ln(m.emb_r(r1) + e), hs)
                    y = m.step(m.ln(m.emb_s(s1) + e), hs)
                    action = torch.tanh(m.head(y))
                    m.step(m.ln(m.emb_a(action) + e), hs)
                    return action

                key = f"{kind}/episode/n={n}"
                out["act_ms"][key] = median_ms(act_episode, a.repeats * 5)
                print(f"act {key}: {out['act_ms'][key]:.2f} ms/step", file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
