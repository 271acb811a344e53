#!/usr/bin/env bash
# `kiln generate` end to end on a tiny random model: JSONL records with the documented fields, the
# same bytes whatever --threads or KILN_ISA, a completion with its own seed the same alone and
# inside a larger batch, stop tokens, and one-line errors with exit 2 (flags) / 1 (files).
set -u
KILN="$1"
MAKE_MODEL="$2"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$MAKE_MODEL" "$DIR/model" gpt2 || fail "make_tiny_model gpt2"
"$MAKE_MODEL" "$DIR/llama" llama || fail "make_tiny_model llama"

gen() { "$KILN" generate --model "$DIR/model" --quiet "$@" 2>"$DIR/stderr"; }

gen --prompt "hello" --prompt "a longer prompt, of other length" --num-samples 2 \
    --max-new-tokens 12 --temperature 1 --top-k 50 --top-p 0.95 --seed 3 -o "$DIR/a.jsonl" \
    || fail "generate a: $(cat "$DIR/stderr")"
grep -q "tokens/s" "$DIR/stderr" || fail "no throughput line: $(cat "$DIR/stderr")"
[ "$(wc -l < "$DIR/a.jsonl")" -eq 4 ] || fail "expected 4 records"
for f in prompt completion tokens logprobs finish_reason seed; do
  grep -q "\"$f\":" "$DIR/a.jsonl" || fail "field $f missing"
done
grep -q '"finish_reason":"length"' "$DIR/a.jsonl" || fail "no length finish"
gen --prompt "hello" --prompt "a longer prompt, of other length" --num-samples 2 \
    --max-new-tokens 12 --temperature 1 --top-k 50 --top-p 0.95 --seed 3 --threads 1 \
    -o "$DIR/b.jsonl" || fail "generate b"
cmp -s "$DIR/a.jsonl" "$DIR/b.jsonl" || fail "same flags, other thread count: other bytes"
KILN_ISA=generic "$KILN" generate --model "$DIR/model" --quiet --prompt "hello" \
    --prompt "a longer prompt, of other length" --num-samples 2 --max-new-tokens 12 \
    --temperature 1 --top-k 50 --top-p 0.95 --seed 3 -o "$DIR/c.jsonl" 2>/dev/null || fail "generic"
cmp -s "$DIR/a.jsonl" "$DIR/c.jsonl" || fail "same flags, KILN_ISA=generic: other bytes"

# A prompt with its own seed gives the same record alone and among other prompts.
printf '{"prompt": "the middle one", "seed": 77}\n' > "$DIR/one.jsonl"
printf '{"prompt": "x", "seed": 1}\n{"prompt": "the middle one", "seed": 77}\n{"prompt": "and a third, longer prompt", "seed": 5}\n' > "$DIR/three.jsonl"
gen --prompts "$DIR/one.jsonl" --max-new-tokens 20 --temperature 0.9 -o "$DIR/one.out" || fail "one"
gen --prompts "$DIR/three.jsonl" --max-new-tokens 20 --temperature 0.9 -o "$DIR/three.out" || fail "three"
[ "$(cat "$DIR/one.out")" = "$(sed -n 2p "$DIR/three.out" | sed 's/"prompt_index":1/"prompt_index":0/')" ] \
  || fail "a completion changed with the batch around it"

# Greedy through the Llama folder, printing completions; a stop token ends samples early.
"$KILN" generate --model "$DIR/llama" --prompt "abc" --temperature 0 --max-new-tokens 8 \
    > "$DIR/greedy.txt" 2>/dev/null || fail "llama greedy"
grep -q -- "--- completion 0" "$DIR/greedy.txt" || fail "completion not printed"
gen --prompt "abc" --num-samples 8 --max-new-tokens 100 --temperature 1 --stop "<|eos|>,e,101" \
    -o "$DIR/stop.jsonl" || fail "stop: $(cat "$DIR/stderr")"

expect_error() {  # expect_error <code> <pattern> <args...>: exit code, one line matching pattern
  local code="$1" pat="$2"; shift 2
  local out rc
  out="$("$KILN" generate "$@" 2>&1 >/dev/null)"; rc=$?
  [ "$rc" -eq "$code" ] || fail "expected exit $code, got $rc: $* ($out)"
  [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "expected one line: $out"
  echo "$out" | grep -q -- "$pat" || fail "expected '$pat' in: $out"
}
expect_error 2 "\-\-top-p: must be in (0, 1\], got 0" --model "$DIR/model" --prompt x --top-p 0
expect_error 2 "\-\-temperature: must be >= 0" --model "$DIR/model" --prompt x --temperature -1
expect_error 2 "unknown flag '--nope'" --model "$DIR/model" --prompt x --nope 1
expect_error 2 "max.new.tokens: expected an integer" --model "$DIR/model" --prompt x --max-new-tokens many
expect_error 2 "exceeds the model's max_positions (128)" --model "$DIR/model" --prompt x --max-new-tokens 128
expect_error 2 "exceeds the model's max_positions (128)" --model "$DIR/model" --prompt x --max-new-tokens 9223372036854775807
expect_error 2 "\-\-stop: 'two tokens'" --model "$DIR/model" --prompt x --stop "two tokens"
expect_error 2 "give --prompt" --model "$DIR/model"
expect_error 1 "$DIR/missing" --model "$DIR/missing" --prompt x
printf '{"prompt": 3}\n' > "$DIR/bad.jsonl"
expect_error 1 "bad.jsonl: record 1: field 'prompt'" --model "$DIR/model" --prompts "$DIR/bad.jsonl"
[ -e "$DIR/x.jsonl" ] && fail "a failed run left a file"
expect_error 2 "\-\-device: unknown device 'gpu' (expected cpu, cuda, cuda:N or cuda-sim)" \
    --model "$DIR/model" --prompt x --device gpu
# No machine has 100 GPUs: "not usable" without a GPU or CUDA build, "does not exist" with one.
expect_error 2 "\-\-device: device 'cuda:99' \(is not usable\|does not exist\)" \
    --model "$DIR/model" --prompt x --device cuda:99

expect_error 2 "\-\-cuda-gemm: unknown CUDA GEMM 'tensor' (expected tiled, cublas or cublaslt)" \
    --model "$DIR/model" --prompt x --cuda-gemm tensor
# --cuda-gemm cublas: accepted in a CUDA build (and ignored by cuda-sim below), a one-line error
# naming the build without CUDA.
gemm=(--cuda-gemm cublas)
if ! gen --prompt x --max-new-tokens 1 --cuda-gemm cublas -o "$DIR/probe.jsonl"; then
  [ "$(wc -l < "$DIR/stderr")" -eq 1 ] && grep -q "kiln was built without CUDA" "$DIR/stderr" \
    || fail "--cuda-gemm cublas: $(cat "$DIR/stderr")"
  gemm=()
fi

# The interpreted CUDA backend picks the CPU's tokens under greedy decoding (both families, the
# default model path; the log-probs agree to rounding only: some CUDA kernels round differently).
# cuda-sim runs kiln's own kernels whatever --cuda-gemm says.
tokens_of() { grep -o '"tokens":\[[^]]*\]' "$1"; }
for m in model llama; do
  for d in cpu cuda-sim; do
    extra=()
    [ $d = cuda-sim ] && extra=("${gemm[@]}")
    "$KILN" generate --model "$DIR/$m" --quiet --prompt "abc" --prompt "a longer one" \
        --temperature 0 --max-new-tokens 6 --device $d "${extra[@]}" -o "$DIR/$m.$d.jsonl" \
        2>"$DIR/stderr" || fail "generate $m --device $d: $(cat "$DIR/stderr")"
  done
  [ "$(tokens_of "$DIR/$m.cpu.jsonl")" = "$(tokens_of "$DIR/$m.cuda-sim.jsonl")" ] \
    || fail "$m: cuda-sim tokens differ from cpu"
done
echo "generate_cli_test: ok"
