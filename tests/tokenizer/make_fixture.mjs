// Regenerates gpt2_peer_ids.json: the ids the npm package gpt-3-encoder (a port of OpenAI's
// encoder.py) gives for every string in strings.json. See README.md for the exact commands.
//
//   PEER_DIR=/tmp/peer node tests/tokenizer/make_fixture.mjs
//
// PEER_DIR is a folder where `npm install gpt-3-encoder` was run; it stays outside the repo so
// the repo has no node_modules.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const peerDir = process.env.PEER_DIR;
if (!peerDir) {
  console.error('set PEER_DIR to the folder where `npm install gpt-3-encoder` was run');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(peerDir), 'package.json'));
const peer = require('gpt-3-encoder');
const pkgDir = path.dirname(require.resolve('gpt-3-encoder/package.json'));
const version = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;

// The test reads the vendored copies; ids from any other vocabulary would be meaningless.
for (const [vendored, original] of [['gpt2/vocab.json', 'encoder.json'],
                                    ['gpt2/merges.txt', 'vocab.bpe']]) {
  const a = fs.readFileSync(path.join(here, vendored));
  const b = fs.readFileSync(path.join(pkgDir, original));
  if (!a.equals(b)) throw new Error(`${vendored} differs from the package's ${original}`);
}

// An independent BPE keyed by real symbol pairs. The peer keys its merge ranks by
// String([a, b]) = "a,b", so a pair like ('",', '"') aliases the merge ('"', ',"'); no string
// here may depend on that, or the fixture would record the peer's bug instead of GPT-2.
const encoder = JSON.parse(fs.readFileSync(path.join(pkgDir, 'encoder.json'), 'utf8'));
const mergeLines = fs.readFileSync(path.join(pkgDir, 'vocab.bpe'), 'utf8').split('\n').slice(1, -1);
const ranks = new Map(mergeLines.map((line, rank) => [line.split(' ').join('\u0000'), rank]));
const byteToChar = (() => {
  const printable = (b) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
  const table = [];
  let next = 256;
  for (let b = 0; b < 256; b++) table.push(String.fromCodePoint(printable(b) ? b : next++));
  return table;
})();
const pattern = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
function checkEncode(text) {
  const ids = [];
  for (const [piece] of text.matchAll(pattern)) {
    let word = [...new TextEncoder().encode(piece)].map((b) => byteToChar[b]);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = ranks.get(word[i] + '\u0000' + word[i + 1]);
        if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
      }
      if (best < 0) break;
      const [a, b] = [word[best], word[best + 1]];
      const merged = [];
      for (let i = 0; i < word.length;) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          merged.push(a + b);
          i += 2;
        } else {
          merged.push(word[i++]);
        }
      }
      word = merged;
    }
    ids.push(...word.map((w) => encoder[w]));
  }
  return ids;
}

const strings = JSON.parse(fs.readFileSync(path.join(here, 'strings.json'), 'utf8'));
const out = [];
let failures = 0;
const problem = (why) => {
  console.error(why);
  failures++;
};
for (const text of strings) {
  const fail = (why) => problem(`${JSON.stringify(text)}: ${why}`);
  // The peer has no special-token handling; the C++ test covers <|endoftext|> on its own.
  if (text.includes('<|endoftext|>')) fail('contains <|endoftext|>');
  // JavaScript's \s includes U+FEFF and excludes U+0085; Python's `regex` (GPT-2) uses Unicode
  // White_Space, the other way round, so the peer splits these differently from GPT-2.
  if (/[\u0085\ufeff]/.test(text)) fail('contains U+0085 or U+FEFF');
  if (!text.isWellFormed()) fail('contains a lone surrogate (not representable in UTF-8)');
  const ids = peer.encode(text);
  if (ids.some((id) => !Number.isInteger(id))) fail(`peer produced a non-id: ${ids}`);
  const expected = checkEncode(text);
  if (JSON.stringify(ids) !== JSON.stringify(expected)) {
    fail(`peer ${JSON.stringify(ids)} != pair-keyed BPE ${JSON.stringify(expected)}`);
  }
  if (peer.decode(ids) !== text) fail('peer does not round-trip');
  out.push({ text, ids });
}
if (strings.length < 220) problem(`only ${strings.length} strings`);
if (failures) {
  console.error(`${failures} problem(s); fixture not written`);
  process.exit(1);
}

const lines = out.map((entry) => JSON.stringify(entry));
fs.writeFileSync(path.join(here, 'gpt2_peer_ids.json'), `[\n${lines.join(',\n')}\n]\n`);
console.log(`wrote ${out.length} entries with gpt-3-encoder ${version}`);
