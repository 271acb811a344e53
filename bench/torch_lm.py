#!/usr/bin/env python3
"""PyTorch's half of the side-by-side LM benchmark (bench/lm_compare.py runs it next to
bench/lm_bench with the same arguments). The same GPT-2 model (tanh GELU, LayerNorm, learned
positions, tied head, GPT-2 init), the same batch shapes, AdamW, 2 threads; attention through
torch's attention (see attention()), sampling greedy with a KV cache. Prints one JSON line.
"""
import argparse
import contextlib
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "small": dict(vocab=256, n_embd=256, n_layer=4, n_head=4, n_pos=1024),
    "gpt2": dict(vocab=50257, n_embd=768, n_layer=12, n_head=12, n_pos=1024),
}


def attention(q, k, v):
    """Causal attention; torch's fused scaled_dot_product_attention when this torch has it (2.0+),
    else the explicit softmax(q k^T / sqrt(d)) v that nanoGPT falls back to (Debian 12 ships 1.13).
    Query i sits at position Tk - Tq + i (decoding against a cache)."""
    tq, tk = q.shape[2], k.shape[2]
    if hasattr(F, "scaled_dot_product_attention"):
        if tq == 1:
            return F.scaled_dot_product_attention(q, k, v)
        return F.scaled_dot_product_attention(q, k, v, is_causal=(tq == tk))
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if tq > 1:
        mask = torch.ones(tq, tk, dtype=torch.bool).tril(diagonal=tk - tq)
        att = att.masked_fill(~mask, float("-inf"))
    return F.softmax(att, dim=-1) @ v


class Block(nn.Module):
    def __init__(self, c, nh):
        super().__init__()
        self.nh = nh
        self.ln_1 = nn.LayerNorm(c)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def attn(self, x, cache=None):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.nh, c // self.nh).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        y = attention(q, k, v)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, c))

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, vocab, n_embd, n_layer, n_head, n_pos):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(n_pos, n_embd)
        self.h = nn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, ids, pos0=0, caches=None):
        t = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(pos0, pos0 + t))
        for i, blk in enumerate(self.h):
            x = blk(x, None if caches is None else caches[i])
        return F.linear(self.ln_f(x), self.wte.weight)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="small")
    ap.add_argument("--mode", default="train")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (training on the GPU: "
                    "the other side of bench/train_step_bench.cc)")
    ap.add_argument("--bf16", action="store_true", help="train under bf16 autocast (GPU)")
    a = ap.parse_args()
    if a.device != "cpu" and not torch.cuda.is_available():
        print(f"torch_lm: device {a.device} is not usable here (no CUDA in this PyTorch or no "
              f"GPU): nothing measured")
        return
    torch.set_num_threads(a.threads)
    torch.manual_seed(1234)
    cfg = CONFIGS[a.model]
    model = Gpt(**cfg).to(a.device)
    nparams = sum(p.numel() for p in model.parameters())
    g = torch.Generator().manual_seed(1)
    if a.mode == "train":
        ids = torch.randint(0, cfg["vocab"], (a.batch, a.seq), generator=g).to(a.device)
        tgt = torch.randint(0, cfg["vocab"], (a.batch, a.seq), generator=g).to(a.device)
        autocast = (torch.autocast(device_type="cuda", dtype=torch.bfloat16) if a.bf16
                    else contextlib.nullcontext())
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)

        def step():
            opt.zero_grad(set_to_none=True)
            with autocast:
                logits = model(ids)
                loss = F.cross_entropy(logits.view(-1, cfg["vocab"]).float(), tgt.view(-1))
            loss.backward()
            opt.step()
            return loss.item()  # waits for the GPU on cuda

        loss = step()
        start = time.perf_counter()
        for _ in range(a.steps):
            loss = step()
        secs = time.perf_counter() - start
        tps = a.batch * a.seq * a.steps / secs
        out = dict(impl="pytorch", version=torch.__version__, mode="train", model=a.model,
                   params=nparams, tokens_per_s=round(tps, 1), step_s=secs / a.steps, loss=loss,
                   device=a.device, dtype="bf16" if a.bf16 else "f32")
        if a.device != "cpu":
            out["device_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    else:
        model.eval()
        with torch.inference_mode():
            prompts = torch.randint(0, cfg["vocab"], (a.batch, a.prompt), generator=g)
            caches = [dict() for _ in model.h]
            start = time.perf_counter()
            logits = model(prompts, 0, caches)[:, -1]
            pos = a.prompt
            for t in range(a.new_tokens):
                nxt = logits.argmax(dim=-1, keepdim=True)
                if t + 1 == a.new_tokens:
                    break
                logits = model(nxt, pos, caches)[:, -1]
                pos += 1
            secs = time.perf_counter() - start
        out = dict(impl="pytorch", version=torch.__version__, mode="sample", model=a.model,
                   batch=a.batch, tokens_per_s=round(a.batch * a.new_tokens / secs, 1),
                   seconds=secs)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
