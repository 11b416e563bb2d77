"""Loads a minrl safetensors export into PyTorch and acts with it.

usage: /usr/bin/python3 scripts/safetensors_torch.py POLICY.safetensors [STEPS.json]

The file is read as the safetensors format defines it (u64 header length,
JSON header, little-endian data), so the script needs only numpy and torch
(Debian python3-numpy, python3-torch); with the PyPI package,
safetensors.torch.load_file(path) and safe_open(path, "pt").metadata()
give the same tensors and metadata. BC and recurrent policies (the
one-step function) are rebuilt in ~60 lines of torch; STEPS.json, if
given, is [{"obs": [...], "reward": r}, ...] (one env) and the actions are
printed one per line, in the env's units.
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = memoryview(data)[8 + n:]
    tensors = {}
    for name, rec in header.items():
        assert rec["dtype"] == "F32", rec
        b, e = rec["data_offsets"]
        arr = np.frombuffer(body[b:e], dtype="<f4").reshape(rec["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


def gelu(x):  # GPT-2's tanh approximation, as minrl's
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


ACT = {"relu": torch.relu, "tanh": torch.tanh, "gelu": gelu}


class Policy:
    def __init__(self, path):
        self.w, self.meta = load(path)
        self.cfg = json.loads(self.meta["minrl.config"])
        self.kind = self.meta["minrl.kind"]
        norm = json.loads(self.meta["minrl.norm"])
        self.mean = torch.tensor(norm["mean"] or [0.0]) if norm["mean"] else None
        self.std = torch.tensor(norm["std"]) if norm["std"] else None
        b = json.loads(self.meta.get("minrl.action_bounds", "null"))
        self.low = torch.tensor(b["low"]) if b else None
        self.high = torch.tensor(b["high"]) if b else None
        target = self.meta.get("export.target_return") or json.loads(self.meta["minrl.targets"])[0]
        self.target = float(target)
        self.reset()

    def lin(self, x, p):  # minrl's Linear weight is [in, out]
        y = x @ self.w[p + ".weight"]
        return y + self.w[p + ".bias"] if p + ".bias" in self.w else y

    def ln(self, x, p):
        return F.layer_norm(x, x.shape[-1:], self.w[p + ".weight"], self.w[p + ".bias"], 1e-5)

    def reset(self):
        self.t, self.togo, self.prev = 0, getattr(self, "target", 0.0), None
        self.rnn, self.conv = {}, {}

    def act(self, obs, reward=0.0):
        x = torch.tensor(obs, dtype=torch.float32)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        if self.kind == "mlp":
            c, h = self.cfg, x
            for i in range(len(c["hidden"]) + 1):
                h = self.lin(h, f"net.{i}")
                if i < len(c["hidden"]):
                    h = ACT[c["act"] or "relu"](h)
            u = torch.tanh(h)
        else:
            u = self.decision_step(x, reward)
        if self.low is not None:
            return (self.low + (u + 1) * (self.high - self.low) / 2).tolist()
        return u.tolist()

    def decision_step(self, s, reward):
        c = self.cfg
        assert c["model"] in ("mingru", "minlstm"), "this script rebuilds the recurrent step; DT: use the ONNX export"
        if self.t > 0:
            self.togo -= reward
        M, h = c["max_ep_len"], c["embed"]
        E = self.w["embed_timestep.weight"]
        ts, pt = min(self.t, M - 1), min(max(self.t - 1, 0), M - 1)
        toks, keep = [], [self.prev is not None, True, True]
        a = self.prev if self.prev is not None else torch.zeros(c["act_dim"])
        toks.append(self.lin(a, "embed_action") + E[pt])
        toks.append(self.lin(torch.tensor([self.togo / c["rtg_scale"]], dtype=torch.float32), "embed_return") + E[ts])
        toks.append(self.lin(s, "embed_state") + E[ts])
        x = self.ln(torch.stack(toks), "embed_ln")  # [3, h]
        act = ACT[c["act"] or "gelu"]
        for l in range(c["layers"]):
            p = f"blocks.{l}"
            u = self.ln(x, p + ".ln1")
            if c["conv"]:
                K = c["conv_kernel"]
                w = self.w[p + ".conv.weight"]  # [h, K]
                hist = self.conv.get(l, torch.zeros(K - 1, h))
                out = []
                for j in range(3):
                    xin = u[j] if keep[j] else torch.zeros(h)
                    win = torch.cat([hist, xin[None]])  # [K, h]
                    out.append(self.w[p + ".conv.bias"] + (w.T * win).sum(0))
                    hist = win[1:]
                self.conv[l] = hist
                u = torch.stack(out)
            pre = self.lin(u, p + ".rnn.proj")
            inner = pre.shape[-1] // (2 if c["model"] == "mingru" else 3)
            g = lambda v: torch.where(v >= 0, v + 0.5, torch.sigmoid(v))
            if c["model"] == "mingru":
                k, v = pre.split(inner, -1)
                ca, cb = torch.sigmoid(-k), torch.sigmoid(k) * g(v)
            else:
                kf, ki, v = pre.split(inner, -1)
                d = F.softplus(-ki) - F.softplus(-kf)
                ca, cb = torch.sigmoid(d), torch.sigmoid(-d) * g(v)
            hs, st = [], self.rnn.get(l, torch.zeros(inner))
            for j in range(3):
                if keep[j]:
                    st = ca[j] * st + cb[j]
                hs.append(st)
            self.rnn[l] = st
            y = torch.stack(hs)
            if p + ".rnn.out.weight" in self.w:
                y = self.lin(y, p + ".rnn.out")
            x = x + y
            x = x + self.lin(act(self.lin(self.ln(x, p + ".ln2"), p + ".mlp.fc")), p + ".mlp.proj")
        u = torch.tanh(self.lin(self.ln(x[2], "ln_f"), "predict_action"))
        self.prev, self.t = u, self.t + 1
        return u


def main(argv):
    pol = Policy(argv[1])
    print(f"# {pol.meta['minrl.env_id']} {pol.cfg.get('model', 'bc')} policy, {len(pol.w)} tensors, "
          f"minrl {pol.meta.get('export.minrl_version', '?')}", file=sys.stderr)
    steps = json.load(open(argv[2])) if len(argv) > 2 else [{"obs": [0.0] * pol.cfg["obs_dim"], "reward": 0.0}]
    with torch.no_grad():
        for st in steps:
            print(json.dumps(pol.act(st["obs"], st.get("reward", 0.0))))


if __name__ == "__main__":
    main(sys.argv)
