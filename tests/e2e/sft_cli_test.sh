#!/usr/bin/env bash
# `kiln sft` end to end on a tiny model folder (make_tiny_model) and Countdown CoT data from
# `kiln data make`: progress line, the output layout (checkpoints/step_<N> each loadable by
# `kiln forward`), a config file with flag overrides, stop + resume == uninterrupted (bytes), a
# run killed with SIGKILL leaves loadable checkpoints and resumes, bad input is one line with the
# right exit code.
set -u
KILN="$1"
MAKE_MODEL="$2"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$MAKE_MODEL" "$DIR/base" gpt2 512 || fail "make_tiny_model"
"$KILN" data make --task countdown --n 40 --variant cot --seed 3 -o "$DIR/train.jsonl" >/dev/null || fail "data make"

COMMON=(--model "$DIR/base" --data "$DIR/train.jsonl" --val-fraction 0.1 --max-len 512
        --global-batch 4 --micro-batch 2 --steps 6 --save-steps 0,2,4 --lr 3e-3 --seed 2 --threads 1)
"$KILN" sft "${COMMON[@]}" -o "$DIR/whole" >"$DIR/log.txt" 2>&1 || { cat "$DIR/log.txt"; fail "sft"; }
grep -q "sft 6/6 loss" "$DIR/log.txt" || { cat "$DIR/log.txt"; fail "no progress line"; }
grep -q "gnorm" "$DIR/log.txt" && grep -q "tok/s" "$DIR/log.txt" || fail "progress line lacks gnorm / tok/s"
grep -q "truncated" "$DIR/log.txt" || fail "no truncation count"
for n in 0 2 4 6; do
  for f in model.safetensors config.json kiln_tokenizer.json; do
    [ -s "$DIR/whole/checkpoints/step_$n/$f" ] || fail "missing checkpoints/step_$n/$f"
  done
  "$KILN" forward --model "$DIR/whole/checkpoints/step_$n" --ids 1,2,3 -o "$DIR/fw.json" >/dev/null || fail "step_$n does not load"
done
[ -e "$DIR/whole/checkpoints/step_1" ] && fail "step_1 was not asked for"
cmp -s "$DIR/base/model.safetensors" "$DIR/whole/checkpoints/step_0/model.safetensors" || fail "step_0 is not the base model"
for f in checkpoint/model.safetensors checkpoint/optimizer.safetensors checkpoint/trainer_state.json \
         metrics.jsonl loss.svg sft_config.json; do
  [ -s "$DIR/whole/$f" ] || fail "missing $f"
done
python3 - "$DIR/whole" <<'PY' || fail "metrics.jsonl"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
train = [r for r in recs if r["type"] == "train"]
val = [r for r in recs if r["type"] == "val"]
assert [r["step"] for r in train] == [1, 2, 3, 4, 5, 6], train
assert all(isinstance(r["loss"], float) and r["loss"] > 0 for r in train)
assert [r["step"] for r in val] == [0, 2, 4, 6], val
cfg = json.load(open(sys.argv[1] + "/sft_config.json"))
assert cfg["run"]["save_steps"] == [0, 2, 4] and cfg["data"]["micro_batch"] == 2, cfg
PY

# A `kiln train` checkpoint is a base model too (its kiln_tokenizer.json comes along).
"$KILN" train --model gpt2-tiny --data "$DIR/train.jsonl" --seq_len 512 --batch_size 1 --steps 1 \
  --val_batches 0 --threads 1 -o "$DIR/pre" >/dev/null 2>&1 || fail "kiln train"
"$KILN" sft --model "$DIR/pre/checkpoint" --data "$DIR/train.jsonl" --max-len 512 --global-batch 2 \
  --steps 1 --threads 1 -o "$DIR/from_train" >/dev/null 2>&1 || fail "sft from a kiln train checkpoint"
[ -s "$DIR/from_train/checkpoints/step_1/model.safetensors" ] || fail "sft from train: no step_1"

# A config file; flags override its fields.
cat > "$DIR/sft.json" <<JSON
{"model": "$DIR/base", "data": {"train": "$DIR/train.jsonl", "max_len": 512, "global_batch": 4,
 "micro_batch": 4, "pack": true}, "optim": {"lr": 1e-3}, "run": {"steps": 2, "out_dir": "$DIR/cfg"}}
JSON
"$KILN" sft --config "$DIR/sft.json" --lr 2e-3 >/dev/null 2>&1 || fail "sft --config"
grep -q '"lr": 0.002' "$DIR/cfg/sft_config.json" || fail "--lr did not override the config"
grep -q '"pack": true' "$DIR/cfg/sft_config.json" || fail "config field lost"

# Stop after 3 steps and resume: the same bytes as the uninterrupted run.
"$KILN" sft "${COMMON[@]}" -o "$DIR/split" --stop-after 3 >/dev/null 2>&1 || fail "sft --stop-after"
grep -q '"step": 3' "$DIR/split/checkpoint/trainer_state.json" || fail "stopped checkpoint not at step 3"
"$KILN" sft --resume "$DIR/split/checkpoint" >"$DIR/resume.txt" 2>&1 || { cat "$DIR/resume.txt"; fail "resume"; }
grep -q "sft (from step 3) 3/3" "$DIR/resume.txt" || { cat "$DIR/resume.txt"; fail "resume progress"; }
for f in checkpoint/model.safetensors checkpoint/optimizer.safetensors checkpoints/step_4/model.safetensors \
         checkpoints/step_6/model.safetensors; do
  cmp -s "$DIR/whole/$f" "$DIR/split/$f" || fail "resumed $f differs"
done

# SIGKILL mid-run: every finished step folder loads, checkpoint/ resumes.
"$KILN" sft "${COMMON[@]}" --steps 400 --save-every 1 --save-steps 0 -o "$DIR/killed" >/dev/null 2>&1 &
PID=$!
for _ in $(seq 1 600); do
  [ -d "$DIR/killed/checkpoints/step_3" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.05
done
kill -9 "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
[ -d "$DIR/killed/checkpoints/step_3" ] || fail "killed run never saved step_3"
for d in "$DIR"/killed/checkpoints/step_*; do
  case "$d" in *.tmp.*) continue ;; esac
  "$KILN" forward --model "$d" --ids 1,2 -o "$DIR/fw.json" >/dev/null 2>&1 || fail "$d does not load after kill -9"
done
STEP=$(python3 -c "import json,sys,os; d=sys.argv[1]; d=d if os.path.exists(d) else d+'.old'; print(json.load(open(d+'/trainer_state.json'))['step'])" "$DIR/killed/checkpoint") || fail "checkpoint after kill"
"$KILN" sft --resume "$DIR/killed/checkpoint" --stop-after $((STEP + 1)) >/dev/null 2>&1 || fail "resume after kill -9"

expect_error() {  # expect_error <exit code> <pattern> <args...>: that exit code, one line matching
  local code="$1" pat="$2"; shift 2
  local out rc
  out="$("$KILN" "$@" 2>&1 >/dev/null)"; rc=$?
  [ "$rc" -eq "$code" ] || fail "expected exit $code, got $rc: $* ($out)"
  [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "expected one line: $out"
  echo "$out" | grep -q -- "$pat" || fail "expected '$pat' in: $out"
}
expect_error 2 "field 'data.micro_batch' (set by --micro-batch): 3 does not divide data.global_batch 4" \
  sft --model "$DIR/base" --data "$DIR/train.jsonl" --global-batch 4 --micro-batch 3
expect_error 2 "field 'data.normalization' (set by --normalization): expected one of token, sequence, sum" \
  sft --model "$DIR/base" --data "$DIR/train.jsonl" --normalization mean
expect_error 2 "field 'model': missing" sft --data "$DIR/train.jsonl"
expect_error 2 "\-\-cuda-gemm: unknown CUDA GEMM 'cublas2' (expected tiled, cublas or cublaslt)" \
    sft --model "$DIR/base" --data "$DIR/train.jsonl" --cuda-gemm cublas2
expect_error 2 "\-\-save-steps: expected steps" sft --model "$DIR/base" --data "$DIR/train.jsonl" --save-steps 0,x
printf '%s\n{"prompt": "p", "task": "countdown"}\n' "$(head -1 "$DIR/train.jsonl")" > "$DIR/noresp.jsonl"
expect_error 1 "noresp.jsonl:2: field 'response': missing" sft --model "$DIR/base" --data "$DIR/noresp.jsonl" --max-len 512
printf '{"prompt": "p", "response": ""}\n' > "$DIR/empty.jsonl"
expect_error 1 "empty.jsonl:1: field 'response': empty" sft --model "$DIR/base" --data "$DIR/empty.jsonl" --max-len 512
cp -r "$DIR/base" "$DIR/badmodel"
sed -i 's/"n_embd": 32/"n_embd": 64/' "$DIR/badmodel/config.json"
expect_error 1 "badmodel" sft --model "$DIR/badmodel" --data "$DIR/train.jsonl" --max-len 512
expect_error 1 "min_supervised_share" sft --model "$DIR/base" --data "$DIR/train.jsonl" --max-len 512 --min-supervised-share 0.99
echo "sft_cli_test: ok"
