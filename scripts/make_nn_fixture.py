#!/usr/bin/python3
"""Regenerates the model-layer reference fixture in tests/fixtures/nn/ with PyTorch:

    /usr/bin/python3 scripts/make_nn_fixture.py   (Debian's python3 + python3-torch; no transformers)

Writes Hugging Face model folders (config.json + model.safetensors, the exact names and layouts
transformers uses) for tiny GPT-2 and Llama models, and next to each a reference.safetensors with
input_ids, targets, the logits and grad.<HF name> for every parameter (of loss = mean cross-entropy
over the targets that are not -100). The models below are minimal re-implementations of
transformers' GPT2LMHeadModel and LlamaForCausalLM (eager attention, no dropout), following its
modeling code step by step; the reference is computed in float64 from the stored float32 weights,
so the only error the C++ test sees is kiln's own float32 arithmetic (the stored reference is
rounded to float32 once: 6e-8 relative, far below the 1e-5 tolerance).

gpt2_f16/ and gpt2_bf16/ hold the same GPT-2 weights rounded to float16 / bfloat16, with reference
logits computed (in float64) from the rounded weights: kiln must load them exactly (f16 and bf16
are exact in f32) and give those logits.

tests/nn/reference_test.cc reads only the files written here. Deterministic: the same torch
version writes the same bytes.
"""
import json
import math
import os
import struct
import sys

import torch

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "nn")
B, T = 2, 12

# ---------------------------------------------------------------------------------------------
# safetensors writer (the format: u64 LE header length, JSON header {name: {dtype, shape,
# data_offsets}}, "__metadata__", then the little-endian data back to back).

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
          torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32"}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: the raw 16 bits
        t = t.view(torch.int16)
    assert sys.byteorder == "little"
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name]
        data = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)  # data section starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for blob in blobs:
            f.write(blob)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


# ---------------------------------------------------------------------------------------------
# GPT2LMHeadModel (transformers/models/gpt2/modeling_gpt2.py), eager attention.

GPT2_CONFIG = {
    "activation_function": "gelu_new",
    "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.0,
    "bos_token_id": 0,
    "embd_pdrop": 0.0,
    "eos_token_id": 0,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05,
    "model_type": "gpt2",
    "n_ctx": 16,
    "n_embd": 32,
    "n_head": 4,
    "n_inner": 48,
    "n_layer": 2,
    "n_positions": 16,
    "reorder_and_upcast_attn": False,
    "resid_pdrop": 0.0,
    "scale_attn_by_inverse_layer_idx": False,
    "scale_attn_weights": True,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": 48,
}


def gpt2_params(c, gen):
    """HF state-dict names and shapes (Conv1D weights are (in, out)); float32 values."""
    e, inner, v = c["n_embd"], c["n_inner"], c["vocab_size"]

    def rnd(*shape, std):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * std).float()

    p = {"wte.weight": rnd(v, e, std=0.3), "wpe.weight": rnd(c["n_positions"], e, std=0.2)}
    for i in range(c["n_layer"]):
        h = f"h.{i}."
        p[h + "ln_1.weight"] = 1 + rnd(e, std=0.1)
        p[h + "ln_1.bias"] = rnd(e, std=0.1)
        p[h + "attn.c_attn.weight"] = rnd(e, 3 * e, std=0.25)
        p[h + "attn.c_attn.bias"] = rnd(3 * e, std=0.1)
        p[h + "attn.c_proj.weight"] = rnd(e, e, std=0.15)
        p[h + "attn.c_proj.bias"] = rnd(e, std=0.1)
        p[h + "ln_2.weight"] = 1 + rnd(e, std=0.1)
        p[h + "ln_2.bias"] = rnd(e, std=0.1)
        p[h + "mlp.c_fc.weight"] = rnd(e, inner, std=0.2)
        p[h + "mlp.c_fc.bias"] = rnd(inner, std=0.1)
        p[h + "mlp.c_proj.weight"] = rnd(inner, e, std=0.15)
        p[h + "mlp.c_proj.bias"] = rnd(e, std=0.1)
    p["ln_f.weight"] = 1 + rnd(e, std=0.1)
    p["ln_f.bias"] = rnd(e, std=0.1)
    return p


def conv1d(x, w, b):  # transformers.pytorch_utils.Conv1D: x @ W + b, W is (in, out)
    return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).reshape(*x.shape[:-1], w.shape[-1])


def gelu_new(x):  # transformers.activations.NewGELUActivation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3.0))))


def causal_softmax_attention(q, k, v):
    """q (B, H, T, hs), k / v (B, H, T, hs): eager attention with the causal mask."""
    t = q.shape[-2]
    w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
    w = torch.where(mask, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
    w = torch.softmax(w, dim=-1)
    return torch.matmul(w, v)


def gpt2_forward(c, p, ids):
    e, nh = c["n_embd"], c["n_head"]
    hs = e // nh
    eps = c["layer_norm_epsilon"]
    b, t = ids.shape
    pos = torch.arange(t).unsqueeze(0)
    x = p["wte.weight"][ids] + p["wpe.weight"][pos]
    for i in range(c["n_layer"]):
        h = f"h.{i}."
        a = torch.nn.functional.layer_norm(x, (e,), p[h + "ln_1.weight"], p[h + "ln_1.bias"], eps)
        qkv = conv1d(a, p[h + "attn.c_attn.weight"], p[h + "attn.c_attn.bias"])
        q, k, v = qkv.split(e, dim=2)
        q, k, v = (z.view(b, t, nh, hs).permute(0, 2, 1, 3) for z in (q, k, v))
        y = causal_softmax_attention(q, k, v).permute(0, 2, 1, 3).reshape(b, t, e)
        x = x + conv1d(y, p[h + "attn.c_proj.weight"], p[h + "attn.c_proj.bias"])
        m = torch.nn.functional.layer_norm(x, (e,), p[h + "ln_2.weight"], p[h + "ln_2.bias"], eps)
        m = gelu_new(conv1d(m, p[h + "mlp.c_fc.weight"], p[h + "mlp.c_fc.bias"]))
        x = x + conv1d(m, p[h + "mlp.c_proj.weight"], p[h + "mlp.c_proj.bias"])
    x = torch.nn.functional.layer_norm(x, (e,), p["ln_f.weight"], p["ln_f.bias"], eps)
    return torch.matmul(x, p["wte.weight"].t())  # lm_head tied to wte, no bias


# ---------------------------------------------------------------------------------------------
# LlamaForCausalLM (transformers/models/llama/modeling_llama.py), eager attention.

LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "head_dim": 8,
    "hidden_act": "silu",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 48,
    "max_position_embeddings": 32,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": 48,
}


def llama_params(c, gen):
    e, inner, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    hd, nh, nkv = c["head_dim"], c["num_attention_heads"], c["num_key_value_heads"]

    def rnd(*shape, std):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * std).float()

    p = {"model.embed_tokens.weight": rnd(v, e, std=0.5)}
    for i in range(c["num_hidden_layers"]):
        m = f"model.layers.{i}."
        p[m + "input_layernorm.weight"] = 1 + rnd(e, std=0.1)
        p[m + "self_attn.q_proj.weight"] = rnd(nh * hd, e, std=0.3)  # nn.Linear: (out, in)
        p[m + "self_attn.k_proj.weight"] = rnd(nkv * hd, e, std=0.3)
        p[m + "self_attn.v_proj.weight"] = rnd(nkv * hd, e, std=0.2)
        p[m + "self_attn.o_proj.weight"] = rnd(e, nh * hd, std=0.15)
        p[m + "post_attention_layernorm.weight"] = 1 + rnd(e, std=0.1)
        p[m + "mlp.gate_proj.weight"] = rnd(inner, e, std=0.2)
        p[m + "mlp.up_proj.weight"] = rnd(inner, e, std=0.2)
        p[m + "mlp.down_proj.weight"] = rnd(e, inner, std=0.15)
    p["model.norm.weight"] = 1 + rnd(e, std=0.1)
    p["lm_head.weight"] = rnd(v, e, std=0.2)
    return p


def rms_norm(x, w, eps):
    # LlamaRMSNorm: hidden.to(float32); x * rsqrt(mean(x^2) + eps); weight * x.to(input_dtype).
    # The reference runs in float64 throughout, so the upcast is to float64 here.
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):  # (B, NKV, T, hd) -> (B, NKV * n_rep, T, hd), head h uses kv head h // n_rep
    b, nkv, t, hd = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, nkv, n_rep, t, hd).reshape(b, nkv * n_rep, t, hd)


def llama_forward(c, p, ids):
    e, hd = c["hidden_size"], c["head_dim"]
    nh, nkv = c["num_attention_heads"], c["num_key_value_heads"]
    eps = c["rms_norm_eps"]
    b, t = ids.shape
    dt = p["lm_head.weight"].dtype
    # LlamaRotaryEmbedding (default rope_type): inv_freq = 1 / theta^(arange(0, hd, 2) / hd).
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).to(dt) / hd))
    pos = torch.arange(t, dtype=dt)
    freqs = pos[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]  # (1, 1, T, hd)
    x = p["model.embed_tokens.weight"][ids]
    for i in range(c["num_hidden_layers"]):
        m = f"model.layers.{i}."
        a = rms_norm(x, p[m + "input_layernorm.weight"], eps)
        q = (a @ p[m + "self_attn.q_proj.weight"].t()).view(b, t, nh, hd).transpose(1, 2)
        k = (a @ p[m + "self_attn.k_proj.weight"].t()).view(b, t, nkv, hd).transpose(1, 2)
        v = (a @ p[m + "self_attn.v_proj.weight"].t()).view(b, t, nkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv)
        y = causal_softmax_attention(q, k, v).transpose(1, 2).reshape(b, t, nh * hd)
        x = x + y @ p[m + "self_attn.o_proj.weight"].t()
        h = rms_norm(x, p[m + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(h @ p[m + "mlp.gate_proj.weight"].t())
        x = x + (g * (h @ p[m + "mlp.up_proj.weight"].t())) @ p[m + "mlp.down_proj.weight"].t()
    x = rms_norm(x, p["model.norm.weight"], eps)
    return x @ p["lm_head.weight"].t()


# ---------------------------------------------------------------------------------------------


def reference(forward, config, params32, ids, targets, with_grads=True):
    """float64 logits and (optionally) d mean-CE / d param for every parameter."""
    p64 = {n: t.double().requires_grad_(with_grads) for n, t in params32.items()}
    logits = forward(config, p64, ids)
    out = {"input_ids": ids, "targets": targets, "logits": logits.detach().float()}
    if with_grads:
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
        loss.backward()
        out["loss"] = loss.detach().float().reshape(1)
        for n, t in p64.items():
            out["grad." + n] = t.grad.float()
    return out


def write_folder(name, config, params, ref):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "config.json"), config)
    write_safetensors(os.path.join(d, "model.safetensors"), params, {"format": "pt"})
    write_safetensors(os.path.join(d, "reference.safetensors"), ref)


def make_ids(gen, vocab):
    ids = torch.randint(0, vocab, (B, T), generator=gen, dtype=torch.int64)
    targets = torch.randint(0, vocab, (B, T), generator=gen, dtype=torch.int64)
    targets[1, 3] = -100  # one ignored target: the mean runs over the B*T - 1 others
    return ids, targets


def main():
    torch.manual_seed(0)
    sizes = {}

    gen = torch.Generator().manual_seed(20240501)
    gp = gpt2_params(GPT2_CONFIG, gen)
    ids, targets = make_ids(gen, GPT2_CONFIG["vocab_size"])
    write_folder("gpt2", GPT2_CONFIG, gp, reference(gpt2_forward, GPT2_CONFIG, gp, ids, targets))
    for dt, tag, tname in ((torch.float16, "f16", "float16"), (torch.bfloat16, "bf16", "bfloat16")):
        rounded = {n: t.to(dt) for n, t in gp.items()}
        cfg = dict(GPT2_CONFIG, torch_dtype=tname)
        ref = reference(gpt2_forward, cfg, {n: t.float() for n, t in rounded.items()}, ids,
                        targets, with_grads=False)
        write_folder("gpt2_" + tag, cfg, rounded, ref)

    gen = torch.Generator().manual_seed(20240502)
    lp = llama_params(LLAMA_CONFIG, gen)
    ids, targets = make_ids(gen, LLAMA_CONFIG["vocab_size"])
    write_folder("llama", LLAMA_CONFIG, lp,
                 reference(llama_forward, LLAMA_CONFIG, lp, ids, targets))

    total = 0
    for dirpath, _, files in os.walk(OUT):
        for f in sorted(files):
            path = os.path.join(dirpath, f)
            total += os.path.getsize(path)
            print(f"{os.path.relpath(path, ROOT)}: {os.path.getsize(path)} bytes")
    print(f"total {total} bytes (torch {torch.__version__})")


if __name__ == "__main__":
    main()
