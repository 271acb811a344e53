#!/usr/bin/env bash
# `kiln train` and `kiln forward` end to end: a tiny run shows progress and leaves a checkpoint,
# metrics.jsonl and loss.svg; stop + resume gives the same weights as an uninterrupted run; the
# checkpoint opens with `kiln forward` (logits JSON of T rows of V; per-token losses of a text);
# bad flags and bad configs give one line and the right exit code.
set -u
KILN="$1"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A small text corpus (deterministic).
for i in $(seq 1 300); do echo "line $i: the kiln trains a tiny model on bytes, $((i * 7 % 13)) times."; done > "$DIR/corpus.txt"
cat > "$DIR/cfg.json" <<JSON
{"model": "gpt2-tiny",
 "data": {"text": ["$DIR/corpus.txt"], "seq_len": 32, "batch_size": 4, "grad_accum": 2, "val_batches": 2},
 "optim": {"lr": 3e-3, "warmup_steps": 2, "schedule": "cosine"},
 "run": {"steps": 6, "eval_every": 3, "log_every": 2, "out_dir": "$DIR/whole", "seed": 1}}
JSON

"$KILN" train --config "$DIR/cfg.json" >"$DIR/log.txt" 2>&1 || { cat "$DIR/log.txt"; fail "train"; }
grep -q "train 6/6 loss" "$DIR/log.txt" || { cat "$DIR/log.txt"; fail "no progress line"; }
grep -q "tok/s" "$DIR/log.txt" || fail "no tokens/s in the progress line"
for f in checkpoint/model.safetensors checkpoint/config.json checkpoint/optimizer.safetensors \
         checkpoint/trainer_state.json checkpoint/kiln_tokenizer.json metrics.jsonl loss.svg; do
  [ -s "$DIR/whole/$f" ] || fail "missing $f"
done
grep -q '"type":"train"' "$DIR/whole/metrics.jsonl" || fail "no train records"
grep -q '"type":"val"' "$DIR/whole/metrics.jsonl" || fail "no val records"
for k in step loss lr tokens tokens_per_s grad_norm elapsed_s; do
  head -1 "$DIR/whole/metrics.jsonl" | grep -q "\"$k\":" || fail "train record lacks $k"
done
grep -q "<svg" "$DIR/whole/loss.svg" || fail "loss.svg is not an SVG"

# Stop after 3 steps, resume for the rest: the same weights as the uninterrupted run.
"$KILN" train --config "$DIR/cfg.json" --out "$DIR/split" --stop_after 3 >/dev/null 2>&1 || fail "train --stop_after"
grep -q '"step": 3' "$DIR/split/checkpoint/trainer_state.json" || fail "stopped checkpoint not at step 3"
"$KILN" train --resume "$DIR/split/checkpoint" >"$DIR/resume.txt" 2>&1 || { cat "$DIR/resume.txt"; fail "resume"; }
grep -q "train (from step 3) 3/3" "$DIR/resume.txt" || { cat "$DIR/resume.txt"; fail "resume progress"; }
cmp -s "$DIR/whole/checkpoint/model.safetensors" "$DIR/split/checkpoint/model.safetensors" || fail "resumed weights differ"
cmp -s "$DIR/whole/checkpoint/optimizer.safetensors" "$DIR/split/checkpoint/optimizer.safetensors" || fail "resumed optimizer state differs"
[ "$(grep -c '"type":"train"' "$DIR/split/metrics.jsonl")" -eq "$(grep -c '"type":"train"' "$DIR/whole/metrics.jsonl")" ] || fail "resumed metrics.jsonl lacks records"

# Resuming with a changed identity field is refused, naming the field.
out="$("$KILN" train --resume "$DIR/split/checkpoint" --lr 0.1 2>&1 >/dev/null)" && fail "resume with another lr"
echo "$out" | grep -q "cannot resume.*'optim.lr'" || fail "resume error: $out"

# kiln forward: logits JSON of T rows of V.
"$KILN" forward --model "$DIR/whole/checkpoint" --ids 1,2,3 -o "$DIR/out.json" >/dev/null || fail "forward"
python3 - "$DIR/out.json" <<'PY' || fail "forward JSON shape"
import json, sys
j = json.load(open(sys.argv[1]))
rows = j["logits"]
assert len(rows) == 3 and all(len(r) == 262 for r in rows), (len(rows), [len(r) for r in rows])
assert all(isinstance(x, float) for r in rows for x in r)
PY
"$KILN" forward --model "$DIR/whole/checkpoint" --ids 1,2,3 -o "$DIR/out2.json" --threads 1 >/dev/null || fail "forward 2"
cmp -s "$DIR/out.json" "$DIR/out2.json" || fail "forward not deterministic across threads"
head -c 200 "$DIR/corpus.txt" > "$DIR/sample.txt"
"$KILN" forward --model "$DIR/whole/checkpoint" --per-token --text "$DIR/sample.txt" -o "$DIR/pt.json" >/dev/null || fail "forward --per-token"
python3 - "$DIR/pt.json" <<'PY' || fail "per-token JSON"
import json, math, sys
j = json.load(open(sys.argv[1]))
t = j["tokens"]
assert j["n_tokens"] == 200 and len(t) == 199, (j["n_tokens"], len(t))  # 200 bytes, 199 predicted
for e in t:
    assert e["logprob"] <= 0 and abs(e["loss"] + e["logprob"]) < 1e-12
assert abs(j["mean_loss"] - sum(e["loss"] for e in t) / len(t)) < 1e-9
assert j["mean_loss"] < math.log(262), j["mean_loss"]
PY

expect_usage() {  # expect_usage <pattern> <args...>: exit 2, one line matching pattern
  local pat="$1"; shift
  local out rc
  out="$("$KILN" "$@" 2>&1 >/dev/null)"; rc=$?
  [ "$rc" -eq 2 ] || fail "expected exit 2, got $rc: $*"
  [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "expected one line: $out"
  echo "$out" | grep -q -- "$pat" || fail "expected '$pat' in: $out"
}
expect_usage "unknown flag '--nope'" train --nope 1
expect_usage "\-\-steps: expected an integer" train --steps many
expect_usage "field 'run.steps' (set by --steps): must be >= 1" train --config "$DIR/cfg.json" --steps 0
expect_usage "no training data" train --steps 3
expect_usage "field 'run.device' (set by --device): unknown device 'tpu'" train --config "$DIR/cfg.json" --device tpu
expect_usage "field 'run.device' (set by --device): device 'cuda:99' \(is not usable\|does not exist\)" train --config "$DIR/cfg.json" --device cuda:99
expect_usage "\-\-cuda-gemm: unknown CUDA GEMM 'fast' (expected tiled, cublas or cublaslt)" train --config "$DIR/cfg.json" --cuda-gemm fast
out="$(KILN_CUDA_GEMM=blas "$KILN" train --config "$DIR/cfg.json" 2>&1 >/dev/null)"; rc=$?
[ "$rc" -eq 2 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "KILN_CUDA_GEMM=blas: exit $rc: $out"
echo "$out" | grep -q "KILN_CUDA_GEMM: unknown CUDA GEMM 'blas'" || fail "KILN_CUDA_GEMM=blas: $out"
expect_usage "\-\-ids: id 999 is outside" forward --model "$DIR/whole/checkpoint" --ids 1,999
expect_usage "\-\-model: required" forward --ids 1
echo '{"data": {"text": ["x"]}, "optim": {"lr": "fast"}}' > "$DIR/bad.json"
out="$("$KILN" train --config "$DIR/bad.json" 2>&1 >/dev/null)"; rc=$?
[ "$rc" -eq 1 ] || fail "bad config: expected exit 1, got $rc"
echo "$out" | grep -q "bad.json: field 'optim.lr': expected a number" || fail "bad config: $out"

# --device cuda-sim: the same run through the interpreted CUDA kernels (default model path) logs
# the CPU run's losses to rounding and saves a checkpoint (copied back to the host).
for d in cpu cuda-sim; do
  "$KILN" train --config "$DIR/cfg.json" --steps 2 --warmup_steps 1 --batch_size 2 --grad_accum 1 \
      --val_batches 0 --eval_every 0 --log_every 1 --device $d --out "$DIR/dev_$d" \
      >"$DIR/dev_$d.txt" 2>&1 || { cat "$DIR/dev_$d.txt"; fail "train --device $d"; }
done
grep -q "device cuda-sim" "$DIR/dev_cuda-sim.txt" || fail "no device in the header line"
[ -s "$DIR/dev_cuda-sim/checkpoint/model.safetensors" ] || fail "cuda-sim: no checkpoint"
python3 - "$DIR/dev_cpu/metrics.jsonl" "$DIR/dev_cuda-sim/metrics.jsonl" <<'PY' || fail "cuda-sim losses"
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(f) if '"train"' in l] for f in sys.argv[1:])
assert len(a) == len(b) == 2, (a, b)
for x, y in zip(a, b):
    assert abs(x - y) <= 1e-5 * abs(x), (a, b)
PY
# Stopped after step 1 and resumed on cuda-sim: bitwise the weights of the uninterrupted run.
"$KILN" train --config "$DIR/cfg.json" --steps 2 --warmup_steps 1 --batch_size 2 --grad_accum 1 \
    --val_batches 0 --eval_every 0 --device cuda-sim --out "$DIR/dev_split" --stop_after 1 \
    >/dev/null 2>&1 || fail "cuda-sim --stop_after 1"
"$KILN" train --resume "$DIR/dev_split/checkpoint" >/dev/null 2>&1 || fail "cuda-sim resume"
cmp -s "$DIR/dev_split/checkpoint/model.safetensors" "$DIR/dev_cuda-sim/checkpoint/model.safetensors" \
  || fail "cuda-sim: resumed weights differ from the uninterrupted run"
echo "train_cli_test: ok"
