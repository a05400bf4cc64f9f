"""The shapes of `npm run bench -- model` in PyTorch on the CPU, for comparison.

A GPT-2 block written out by hand (GELU tanh, pre-LayerNorm, tied head, causal attention), an
AdamW step over all parameters, a LoRA-shaped step (base frozen, rank-r A, B on the attention
projections), and greedy generation with a KV cache. Prints one JSON object; run with
python3 torch_model.py '{"vocab_size": 257, ...}'.
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

shape = json.loads(sys.argv[1])
reps = int(shape.get("reps", 5))
V, P, D, L, H = (shape[k] for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"))
B, T, R = shape["batch"], shape["time"], shape["loraRank"]
torch.manual_seed(1)


def param(*s, std=0.02):
    return torch.nn.Parameter(torch.randn(*s) * std)


class Gpt2(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = param(V, D), param(P, D)
        self.blocks = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.ln1, m.ln2 = torch.nn.LayerNorm(D, eps=1e-5), torch.nn.LayerNorm(D, eps=1e-5)
            m.attn_w, m.attn_b = param(D, 3 * D), torch.nn.Parameter(torch.zeros(3 * D))
            m.proj_w, m.proj_b = param(D, D), torch.nn.Parameter(torch.zeros(D))
            m.fc_w, m.fc_b = param(D, 4 * D), torch.nn.Parameter(torch.zeros(4 * D))
            m.out_w, m.out_b = param(4 * D, D), torch.nn.Parameter(torch.zeros(D))
            self.blocks.append(m)
        self.lnf = torch.nn.LayerNorm(D, eps=1e-5)
        self.lora = None

    def weight(self, i, name):
        w = getattr(self.blocks[i], name)
        if self.lora is not None and (i, name) in self.lora:
            a, b = self.lora[(i, name)]
            w = w + a @ b
        return w

    def forward(self, ids, cache=None):
        past = cache[0][0].shape[2] if cache else 0
        b, t = ids.shape
        x = self.wte[ids] + self.wpe[past : past + t]
        new_cache = []
        for i, m in enumerate(self.blocks):
            qkv = m.ln1(x) @ self.weight(i, "attn_w") + m.attn_b
            q, k, v = (z.view(b, t, H, D // H).transpose(1, 2) for z in qkv.split(D, dim=-1))
            if cache:
                k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
            new_cache.append((k, v))
            s = q @ k.transpose(-1, -2) / math.sqrt(D // H)
            mask = torch.ones(t, past + t, dtype=torch.bool).tril(past)
            a = torch.softmax(s.masked_fill(~mask, -1e9), -1) @ v
            x = x + a.transpose(1, 2).reshape(b, t, D) @ self.weight(i, "proj_w") + m.proj_b
            h = F.gelu(m.ln2(x) @ m.fc_w + m.fc_b, approximate="tanh")
            x = x + h @ m.out_w + m.out_b
        return self.lnf(x) @ self.wte.t(), new_cache


def timed(fn, n):
    fn()
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)[len(times) // 2]


def measure(threads):
    torch.set_num_threads(threads)
    model = Gpt2()
    ids = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)

    def full_step():
        opt.zero_grad()
        logits, _ = model(ids)
        F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    full_ms = timed(full_step, reps)
    for p in model.parameters():
        p.requires_grad_(False)
    model.lora = {}
    for i in range(L):
        for name, out in (("attn_w", 3 * D), ("proj_w", D)):
            model.lora[(i, name)] = (
                torch.nn.Parameter(torch.randn(D, R) * 0.02),
                torch.nn.Parameter(torch.zeros(R, out)),
            )
    lora_params = [p for ab in model.lora.values() for p in ab]
    lora_opt = torch.optim.AdamW(lora_params, lr=1e-3)

    def lora_step():
        lora_opt.zero_grad()
        logits, _ = model(ids)
        F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1)).backward()
        lora_opt.step()

    lora_ms = timed(lora_step, reps)
    model.lora = None
    prompt = torch.tensor([[(i * 37) % 256 for i in range(16)]])

    @torch.no_grad()
    def greedy():
        logits, cache = model(prompt)
        for _ in range(64):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            logits, cache = model(nxt, cache)

    gen_ms = timed(greedy, max(1, reps // 2))
    tokens = B * T
    return {
        "fullStepMs": round(full_ms),
        "fullTokensPerSecond": round(tokens / full_ms * 1000),
        "loraStepMs": round(lora_ms),
        "loraTokensPerSecond": round(tokens / lora_ms * 1000),
        "generationTokensPerSecond": round(64 / gen_ms * 1000),
    }


print(json.dumps({"torch": torch.__version__, "threads1": measure(1), "threads2": measure(2)}))
