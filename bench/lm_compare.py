#!/usr/bin/env python3
"""Side-by-side LM benchmark: kiln (bench/lm_bench) against PyTorch (bench/torch_lm.py), same model,
same batch, same thread count, each in its own process. Prints both and kiln/PyTorch.

  python3 bench/lm_compare.py --kiln build/bench/bench/lm_bench [--quick] [--train-only]
      [--repeat 3] [--variants 'unfused=KILN_UNFUSE=all,KILN_ALLOC_CACHE_MB=0']

Cases (the LM issue's): training (a) small GPT-2 (4 layers, 4 heads, width 256, vocab 256, T 256,
batch 8) and (b) GPT-2 124M at batch 4, T 64; sampling with a KV cache, 128 new tokens, batch 1 and
batch 16. Training lines also print model FLOP/s as a share of OpenBLAS sgemm GFLOP/s measured in
the same kiln process.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"lm_compare: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def torch_python():
    """Debian's python3-torch belongs to /usr/bin/python3; a python3 earlier in PATH (pyenv,
    venv) may lack it."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if subprocess.run([exe, "-c", "import torch"], capture_output=True).returncode == 0:
            return exe
    sys.exit("lm_compare: no python3 with torch found (run scripts/setup.sh --bench)")


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else 0.5 * (xs[len(xs) // 2 - 1] + xs[len(xs) // 2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True, help="path of the lm_bench binary")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="fewer steps")
    ap.add_argument("--train-only", action="store_true", help="only the two training cases")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each case this many times, kiln and PyTorch interleaved; print medians")
    ap.add_argument("--variants", default="",
                    help="extra kiln runs, interleaved with the others: name=ENV=V[,ENV=V];... "
                         "e.g. 'unfused=KILN_UNFUSE=all,KILN_ALLOC_CACHE_MB=0'")
    a = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    variants = []
    for spec in filter(None, a.variants.split(";")):
        name, _, assigns = spec.partition("=")
        venv = dict(env)
        for kv in filter(None, assigns.split(",")):
            k, _, v = kv.partition("=")
            venv[k] = v
        variants.append((name, venv))
    py = torch_python()
    steps_small, steps_big = (2, 1) if a.quick else (5, 3)
    cases = [
        ("train small B8 T256", ["--model", "small", "--mode", "train", "--batch", "8", "--seq", "256", "--steps", str(steps_small)]),
        ("train gpt2-124M B4 T64", ["--model", "gpt2", "--mode", "train", "--batch", "4", "--seq", "64", "--steps", str(steps_big)]),
        ("sample small B1 128 new", ["--model", "small", "--mode", "sample", "--batch", "1"]),
        ("sample small B16 128 new", ["--model", "small", "--mode", "sample", "--batch", "16"]),
        ("sample gpt2-124M B1 128 new", ["--model", "gpt2", "--mode", "sample", "--batch", "1"]),
    ]
    if a.train_only:
        cases = cases[:2]
    print(f"{'case':30s} {'kiln tok/s':>11s} {'torch tok/s':>11s} {'kiln/torch':>10s} "
          f"{'kiln MiB':>9s} {'torch MiB':>9s}  notes")
    for name, args in cases:
        args = args + ["--threads", str(a.threads)]
        ks, ts, vs = [], [], {n: [] for n, _ in variants}
        for _ in range(a.repeat):
            ks.append(run([a.kiln] + args, env))
            for vname, venv in variants:
                vs[vname].append(run([a.kiln] + args, venv))
            ts.append(run([py, os.path.join(HERE, "torch_lm.py")] + args, env))
        k = dict(ks[-1], tokens_per_s=median([x["tokens_per_s"] for x in ks]),
                 model_gflops=median([x.get("model_gflops", 0) for x in ks]),
                 sgemm_gflops=median([x.get("sgemm_gflops", 0) for x in ks]),
                 peak_rss_mib=max(x["peak_rss_mib"] for x in ks))
        t = dict(ts[-1], tokens_per_s=median([x["tokens_per_s"] for x in ts]),
                 peak_rss_mib=max(x["peak_rss_mib"] for x in ts))
        note = f"kiln isa {k['isa']}, torch {t['version']}"
        if a.repeat > 1:
            note += f", medians of {a.repeat}"
        if k["mode"] == "train":
            share = k["model_gflops"] / k["sgemm_gflops"]
            tshare = k["model_gflops"] * t["tokens_per_s"] / k["tokens_per_s"] / k["sgemm_gflops"]
            note += (f"; model {k['model_gflops']:.1f} GFLOP/s = {100 * share:.0f}% of OpenBLAS "
                     f"sgemm {k['sgemm_gflops']:.1f} (torch {100 * tshare:.0f}%)")
            if "tensor_peak_mib" in k:
                note += f"; kiln tensors peak {k['tensor_peak_mib']:.0f} MiB"
        else:
            note += (f"; {k['fresh_allocs_per_step']:.2f} fresh allocs/step; weights "
                     f"{k['weight_mib_per_step']:.1f} MiB/step read at {k['weight_gbps']:.1f} GB/s, "
                     f"memcpy {k['memcpy_gbps']:.1f} GB/s -> bandwidth bound "
                     f"{k['bandwidth_bound_tokens_per_s']:.0f} tok/s "
                     f"(kiln at {100 * k['tokens_per_s'] / k['bandwidth_bound_tokens_per_s']:.0f}%)")
        print(f"{name:30s} {k['tokens_per_s']:11.1f} {t['tokens_per_s']:11.1f} "
              f"{k['tokens_per_s'] / t['tokens_per_s']:10.2f} {k['peak_rss_mib']:9.0f} "
              f"{t['peak_rss_mib']:9.0f}  {note}", flush=True)
        for vname, runs in vs.items():
            tps = median([x["tokens_per_s"] for x in runs])
            vpeak = max(x["peak_rss_mib"] for x in runs)
            extra = ""
            if "tensor_peak_mib" in runs[-1]:
                extra = f"; tensors peak {runs[-1]['tensor_peak_mib']:.0f} MiB"
            print(f"{'  kiln ' + vname:30s} {tps:11.1f} {t['tokens_per_s']:11.1f} "
                  f"{tps / t['tokens_per_s']:10.2f} {vpeak:9.0f} {t['peak_rss_mib']:9.0f}  "
                  f"same binary, {vname} (default/this: {k['tokens_per_s'] / tps:.2f}x){extra}",
                  flush=True)


if __name__ == "__main__":
    main()
