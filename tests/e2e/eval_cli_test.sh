#!/usr/bin/env bash
# `kiln eval` and `kiln data sample` end to end on tiny random models: results.json and
# samples.jsonl with the documented fields, the same samples for --batch-size 1 and 16 and any
# --threads, a sweep over a fabricated run folder with three checkpoints (table, JSON, SVGs), a
# rejection-sampled dataset in `kiln data make`'s format, and one-line errors for bad input.
set -u
KILN="$1"
MAKE_MODEL="$2"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$MAKE_MODEL" "$DIR/model" gpt2 640 1 || fail "make_tiny_model"
ev() { "$KILN" eval --model "$DIR/model" --quiet --suites instruction,safety --n-prompts 2 --k 3 \
         --max-new-tokens 10 --temperature 1 "$@" 2>"$DIR/stderr" >"$DIR/stdout"; }

ev --batch-size 1 -o "$DIR/b1" || fail "eval b1: $(cat "$DIR/stderr")"
grep -q "samples/s" "$DIR/stdout" || fail "no samples/s line: $(cat "$DIR/stdout")"
grep -q "^instruction" "$DIR/stdout" || fail "no instruction line"
grep -q "refusal rate" "$DIR/stdout" || fail "no refusal line: $(cat "$DIR/stdout")"
ev --batch-size 16 -o "$DIR/b16" || fail "eval b16"
ev --batch-size 5 --threads 1 -o "$DIR/b5" || fail "eval b5"
cmp -s "$DIR/b1/samples.jsonl" "$DIR/b16/samples.jsonl" || fail "batch 1 vs 16: other samples"
cmp -s "$DIR/b1/samples.jsonl" "$DIR/b5/samples.jsonl" || fail "batch 5, 1 thread: other samples"
[ "$(wc -l < "$DIR/b1/samples.jsonl")" -eq 12 ] || fail "expected 12 samples"
python3 - "$DIR" <<'PY' || fail "results.json"
import json, sys
d = sys.argv[1]
a = json.load(open(d + "/b1/results.json")); b = json.load(open(d + "/b16/results.json"))
assert a["suites"] == b["suites"], "metrics differ between batch sizes"
assert a["batch_size"] == 1 and b["batch_size"] == 16
for f in ["config", "checkpoint_hash", "prompt_sets", "seeds", "dtype", "kiln_revision", "timings",
          "samples_per_s"]:
    assert f in a, f
m = a["suites"]["safety"]["aggregate"]["metrics"]
for f in ["avg@k", "pass@k", "maj@k", "format_rate", "mean_length", "truncation_rate"]:
    assert set(m[f]) == {"mean", "lo", "hi"}, f
    assert m[f]["lo"] <= m[f]["mean"] <= m[f]["hi"], f
for line in open(d + "/b1/samples.jsonl"):
    r = json.loads(line)
    for f in ["suite", "task", "prompt_id", "sample_index", "response", "answer", "correct",
              "length", "truncated"]:
        assert f in r, f
    assert r["length"] <= 10
PY

# A config file, overridden by a flag.
printf '{"suites": ["safety"], "n_prompts": 1, "k": 2, "max_new_tokens": 4}\n' > "$DIR/cfg.json"
"$KILN" eval --model "$DIR/model" --quiet --config "$DIR/cfg.json" --k 1 -o "$DIR/cfg" >/dev/null \
    2>&1 || fail "eval --config"
[ "$(wc -l < "$DIR/cfg/samples.jsonl")" -eq 1 ] || fail "--k did not override the config"

# Sweep over a fabricated run folder.
for s in 0 10 160; do "$MAKE_MODEL" "$DIR/run/checkpoints/step_$s" gpt2 640 $((s + 1)) || fail mk; done
"$KILN" eval --sweep "$DIR/run" --quiet --suites instruction,safety --n-prompts 2 --k 2 \
    --max-new-tokens 6 >"$DIR/sweep.out" 2>&1 || fail "sweep: $(cat "$DIR/sweep.out")"
for f in sweep.md sweep.json sweep_summary.json sweep_score.svg sweep_length.svg \
         step_0/results.json step_160/samples.jsonl; do
  [ -s "$DIR/run/eval/$f" ] || fail "sweep: $f missing"
done
grep -q "^instruction .*baseline" "$DIR/sweep.out" || fail "no summary line: $(cat "$DIR/sweep.out")"
python3 - "$DIR/run/eval" <<'PY' || fail "sweep files do not parse"
import json, sys, xml.dom.minidom
d = sys.argv[1]
s = json.load(open(d + "/sweep.json")); assert s["steps"] == [0, 10, 160]
m = json.load(open(d + "/sweep_summary.json"))
assert set(m) == {"instruction", "safety"}
for k in ["baseline", "dip_depth", "min_step", "recovery_step", "final_gain", "final_vs_baseline",
          "consecutive"]:
    assert k in m["instruction"], k
for f in ["sweep_score.svg", "sweep_length.svg"]:
    xml.dom.minidom.parse(d + "/" + f)
assert "| step" in open(d + "/sweep.md").read()
PY

# Rejection-sampled data.
"$KILN" data sample --model "$DIR/model" --task countdown --n 2 --k 2 --max-new-tokens 8 \
    -o "$DIR/sampled.jsonl" >"$DIR/sample.out" 2>&1 || fail "data sample: $(cat "$DIR/sample.out")"
grep -q "countdown: 2 prompts x 2 samples" "$DIR/sample.out" || fail "no acceptance line"
[ -f "$DIR/sampled.jsonl" ] || fail "no sampled.jsonl"
python3 -c "import json,sys; a=json.load(open(sys.argv[1])); assert a['tasks']['countdown']['samples']==4" \
    "$DIR/sampled.jsonl.acceptance.json" || fail "acceptance.json"

expect_error() {  # expect_error <code> <pattern> <args...>
  local code="$1" pat="$2"; shift 2
  local out rc
  out="$("$KILN" "$@" 2>&1 >/dev/null)"; rc=$?
  [ "$rc" -eq "$code" ] || fail "expected exit $code, got $rc: $* ($out)"
  [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "expected one line: $out"
  echo "$out" | grep -q -- "$pat" || fail "expected '$pat' in: $out"
}
expect_error 2 "unknown suite 'math'" eval --model "$DIR/model" --suites countdown,math
expect_error 2 "\-\-k: must be >= 1, got 0" eval --model "$DIR/model" --k 0
expect_error 2 "\-\-n-prompts: must be >= 1, got 0" eval --model "$DIR/model" --n-prompts 0
expect_error 2 "\-\-k: invalid\|\-\-k: .*integer\|--k" eval --model "$DIR/model" --k two
expect_error 2 "give --model DIR or --sweep RUN_DIR" eval
expect_error 2 "\-\-top-p: must be in (0, 1\]" eval --model "$DIR/model" --top-p 2
mkdir -p "$DIR/empty_run/checkpoints"
expect_error 1 "no checkpoints" eval --sweep "$DIR/empty_run"
cp -r "$DIR/model" "$DIR/bad"
sed -i 's/"n_embd": 32/"n_embd": 64/' "$DIR/bad/config.json"
grep -q '"n_embd": 64' "$DIR/bad/config.json" || fail "could not edit config.json"
expect_error 1 "$DIR/bad" eval --model "$DIR/bad" --suites safety
expect_error 1 "max_positions" eval --model "$DIR/model" --suites countdown --max-new-tokens 600
expect_error 2 "\-\-k: must be >= 1" data sample --model "$DIR/model" --k 0 -o "$DIR/x.jsonl"
expect_error 1 "\-\-task" data sample --model "$DIR/model" --task sorting --n 1 -o "$DIR/x.jsonl"
echo "eval_cli_test: ok"
