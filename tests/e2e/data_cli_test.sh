#!/usr/bin/env bash
# `kiln data` end to end: make is deterministic (same flags, same bytes), bad input gives one clear
# line naming the flag or file:line and a non-zero exit, and a failed build leaves no file behind.
set -u
KILN="$1"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$KILN" data make --task countdown --n 200 --variant cot --seed 1 -o "$DIR/a.jsonl" >/dev/null || fail "make a"
"$KILN" data make --task countdown --n 200 --variant cot --seed 1 -o "$DIR/b.jsonl" >/dev/null || fail "make b"
cmp -s "$DIR/a.jsonl" "$DIR/b.jsonl" || fail "same flags gave different bytes"
[ "$(wc -l < "$DIR/a.jsonl")" -eq 200 ] || fail "expected 200 lines"
[ -s "$DIR/a.jsonl.lengths.svg" ] && [ -s "$DIR/a.jsonl.stats.json" ] || fail "no stats / histogram"

expect_error() {  # expect_error <pattern> <args...>: non-zero exit, one line matching pattern
  local pat="$1"; shift
  local out
  out="$("$KILN" "$@" 2>&1 >/dev/null)" && fail "expected failure: $*"
  echo "$out" | grep -q -- "$pat" || fail "expected '$pat' in: $out"
}
expect_error "unknown task 'nope'" data make --task nope --n 5 -o "$DIR/x.jsonl"
expect_error "\-\-difficulty: task 'countdown': difficulty 9" data make --task countdown --difficulty 9 --n 5 -o "$DIR/x.jsonl"
expect_error "\-\-n: expected an integer" data make --task countdown --n many -o "$DIR/x.jsonl"
[ -e "$DIR/x.jsonl" ] && fail "a failed build left a file"
ls "$DIR" | grep -q tmp && fail "a failed build left a temporary file"

printf '%s\n{"prompt": "p", oops\n' "$(head -1 "$DIR/a.jsonl")" > "$DIR/bad.jsonl"
expect_error "bad.jsonl:2: invalid JSON" data stats "$DIR/bad.jsonl"

"$KILN" data make --task countdown --n 50 --variant short --split eval --seed 1 -o "$DIR/eval.jsonl" >/dev/null || fail "make eval"
"$KILN" data check-split --train "$DIR/a.jsonl" --eval "$DIR/eval.jsonl" >/dev/null || fail "split overlap"
head -3 "$DIR/a.jsonl" >> "$DIR/eval.jsonl"
"$KILN" data check-split --train "$DIR/a.jsonl" --eval "$DIR/eval.jsonl" >/dev/null && fail "overlap not found"
"$KILN" data mix --sources "countdown=2,arithmetic=1,safety=1" --n 100 -o "$DIR/mix.jsonl" >/dev/null || fail "mix"
"$KILN" data stats "$DIR/mix.jsonl" --svg "$DIR/mix.svg" >/dev/null || fail "stats"
[ -s "$DIR/mix.svg" ] || fail "no svg"
echo "data_cli_test: ok"
