#!/usr/bin/env bash
# `kiln tokenizer` end to end: train is deterministic (same corpus, same bytes), encode/decode round
# trip with a trained tokenizer, GPT-2 and byte, GPT-2 gives its known ids, and bad input gives one
# clear line naming the flag or file and a non-zero exit. GPT-2's files come from scripts/setup.sh.
set -u
KILN="$1"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for i in $(seq 1 60); do
  printf 'The cat sat on the mat %d times. It'"'"'s a cat'"'"'s life; caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd!\n' "$i"
done > "$DIR/corpus.txt"
"$KILN" tokenizer train --corpus "$DIR/corpus.txt" --vocab-size 300 -o "$DIR/a.json" >/dev/null || fail "train a"
"$KILN" tokenizer train --corpus "$DIR/corpus.txt" --vocab-size 300 -o "$DIR/b.json" >/dev/null || fail "train b"
cmp -s "$DIR/a.json" "$DIR/b.json" || fail "same corpus gave different tokenizer files"
grep -q '"type": "bpe"' "$DIR/a.json" || fail "no type in the tokenizer file"

printf 'Unseen text:  tabs\t\tand \xf0\x9f\x98\x80 emoji, numbers 3.14\n  ' > "$DIR/text.txt"
for tok in "$DIR/a.json" byte gpt2; do
  "$KILN" tokenizer encode --tokenizer "$tok" "$DIR/text.txt" > "$DIR/ids.json" || fail "encode with $tok"
  head -c 1 "$DIR/ids.json" | grep -q '\[' || fail "encode with $tok did not print a JSON array"
  "$KILN" tokenizer decode --tokenizer "$tok" "$DIR/ids.json" -o "$DIR/back.txt" || fail "decode with $tok"
  cmp -s "$DIR/text.txt" "$DIR/back.txt" || fail "decode(encode(text)) != text with $tok"
done

printf 'Hello world' > "$DIR/hello.txt"
[ "$("$KILN" tokenizer encode --tokenizer gpt2 "$DIR/hello.txt")" = "[15496,995]" ] || fail "gpt2 ids of 'Hello world'"
"$KILN" tokenizer encode --tokenizer gpt2 "$DIR/hello.txt" -o "$DIR/hello.ids" || fail "encode -o"
[ "$(cat "$DIR/hello.ids")" = "[15496,995]" ] || fail "encode -o wrote the wrong ids"

expect_error() {  # expect_error <pattern> <args...>: non-zero exit, one line matching pattern
  local pat="$1"; shift
  local out
  out="$("$KILN" "$@" 2>&1 >/dev/null)" && fail "expected failure: $*"
  [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "expected one line, got: $out"
  echo "$out" | grep -q -- "$pat" || fail "expected '$pat' in: $out"
}
expect_error "\-\-vocab.size: expected an integer" tokenizer train --corpus "$DIR/corpus.txt" --vocab-size lots -o "$DIR/x.json"
expect_error "\-\-vocab-size: vocab size 100 is below 256" tokenizer train --corpus "$DIR/corpus.txt" --vocab-size 100 -o "$DIR/x.json"
expect_error "unknown flag" tokenizer encode --tokeniser gpt2 "$DIR/text.txt"
expect_error "$DIR/nope.txt: cannot open" tokenizer train --corpus "$DIR/nope.txt" --vocab-size 300 -o "$DIR/x.json"
expect_error "$DIR/nope.txt: cannot open" tokenizer encode --tokenizer byte "$DIR/nope.txt"
expect_error "$DIR/nope.json: cannot open" tokenizer encode --tokenizer "$DIR/nope.json" "$DIR/text.txt"
[ -e "$DIR/x.json" ] && fail "a failed train left a file"
printf '{"type": "bpe", "vocab": [' > "$DIR/broken.json"
expect_error "broken.json: invalid JSON" tokenizer encode --tokenizer "$DIR/broken.json" "$DIR/text.txt"
echo '[1, 2, 999999]' > "$DIR/bad_ids.json"
expect_error "bad_ids.json: \[2\]: expected a token id in \[0, 50263)" tokenizer decode --tokenizer gpt2 "$DIR/bad_ids.json"
KILN_GPT2_DIR="$DIR/empty" expect_error "run scripts/setup.sh" tokenizer encode --tokenizer gpt2 "$DIR/text.txt"
echo "tokenizer_cli_test: ok"
