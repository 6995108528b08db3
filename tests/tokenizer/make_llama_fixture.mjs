// Regenerates llama2_js_ids.json: the ids the npm package llama-tokenizer-js (an independent
// JavaScript implementation of Llama's SentencePiece tokenizer) gives for every string in
// sp_strings.json. See README.md for the exact commands.
//
//   PEER_DIR=/work/peers/sp-npm node tests/tokenizer/make_llama_fixture.mjs
//
// PEER_DIR is a folder where `npm install llama-tokenizer-js` was run; it stays outside the repo
// so the repo has no node_modules.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const peerDir = process.env.PEER_DIR;
if (!peerDir) {
  console.error('set PEER_DIR to the folder where `npm install llama-tokenizer-js` was run');
  process.exit(2);
}
const pkgDir = path.join(path.resolve(peerDir), 'node_modules', 'llama-tokenizer-js');
const version = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
const { default: peer } = await import(pathToFileURL(path.join(pkgDir, 'llama-tokenizer.js')));

// The test reads llama2.c's tokenizer.bin; the peer carries its own copy of the vocabulary, so
// both must hold the same pieces in the same order or the ids would mean different things.
// tokenizer.bin: uint32 max_token_length, then per piece float32 score, uint32 length, text with
// U+2581 written as a space and BOS/EOS as "\n<s>\n" and "\n</s>\n".
const bin = fs.readFileSync(path.join(here, 'llama2', 'tokenizer.bin'));
const binPieces = [];
for (let pos = 4; pos < bin.length;) {
  const length = bin.readUInt32LE(pos + 4);
  binPieces.push(bin.subarray(pos + 8, pos + 8 + length).toString('utf8'));
  pos += 8 + length;
}
const peerPieces = peer.vocabById;
if (binPieces.length !== peerPieces.length) {
  throw new Error(`tokenizer.bin has ${binPieces.length} pieces, the peer ${peerPieces.length}`);
}
for (let id = 0; id < binPieces.length; id++) {
  const expected = id === 1 ? '\n<s>\n' : id === 2 ? '\n</s>\n' : peerPieces[id].replaceAll('\u2581', ' ');
  if (binPieces[id] !== expected) {
    throw new Error(`piece ${id}: tokenizer.bin ${JSON.stringify(binPieces[id])}, peer ${JSON.stringify(peerPieces[id])}`);
  }
}

const strings = JSON.parse(fs.readFileSync(path.join(here, 'sp_strings.json'), 'utf8'));
const out = [];
let failures = 0;
const problem = (why) => {
  console.error(why);
  failures++;
};
for (const text of strings) {
  const fail = (why) => problem(`${JSON.stringify(text)}: ${why}`);
  // The peer writes spaces as U+2581 before merging, so a U+2581 in the text is a space to it;
  // kvscope spells it with byte pieces (checked in the C++ test).
  if (text.includes('\u2581')) fail('contains U+2581');
  if (!text.isWellFormed()) fail('contains a lone surrogate (not representable in UTF-8)');
  // No BOS (kvscope's encode never adds it); the preceding space is SentencePiece's dummy prefix.
  const ids = peer.encode(text, false, true);
  if (ids.some((id) => !Number.isInteger(id) || id < 0 || id >= peerPieces.length)) {
    fail(`peer produced a non-id: ${ids}`);
  }
  if (peer.decode(ids, false, true) !== text) fail('peer does not round-trip');
  out.push({ text, ids });
}
if (strings.length < 300) problem(`only ${strings.length} strings`);
if (failures) {
  console.error(`${failures} problem(s); fixture not written`);
  process.exit(1);
}

const header = JSON.stringify({ peer: `llama-tokenizer-js ${version}`, model: 'llama2/tokenizer.bin',
                                vocab_size: peerPieces.length });
// ASCII escapes: Qt's JSON parser drops a U+FEFF that starts a raw UTF-8 string.
const ascii = (json) => json.replace(/[\u007f-\uffff]/g,
                                     (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const lines = out.map((entry) => ascii(JSON.stringify(entry)));
fs.writeFileSync(path.join(here, 'llama2_js_ids.json'),
                 `${header.slice(0, -1)}, "entries": [\n${lines.join(',\n')}\n]}\n`);
console.log(`wrote ${out.length} entries with llama-tokenizer-js ${version}`);
