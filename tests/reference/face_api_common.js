// What the face-api reference scripts (face_api_embeddings.js, face_api_landmarks.js,
// face_api_detections.js) share: where the pinned package and the AT&T faces are, the sha256
// check of the cached files, loading dist/face-api.js in node, and small byte helpers.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const Module = require('module');
const os = require('os');
const path = require('path');

const kVersion = '1.7.15';
const root = path.resolve(__dirname, '..', '..');
let toolName = 'face_api';

// Names the script in error messages ("NAME: error: ...").
function setToolName(name) { toolName = name; }

// The module for the script NAME: its errors read "NAME: error: ...".
function forTool(name) {
  setToolName(name);
  return module.exports;
}

function die(message) {
  process.stderr.write(`${toolName}: error: ${message}\n`);
  process.exit(1);
}

function weightsDir(args) {
  if (args.weights) return args.weights;
  if (process.env.SIAMESE_WEIGHTS_DIR) return process.env.SIAMESE_WEIGHTS_DIR;
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'gst-siamese', `face-api-${kVersion}`);
}

function attDir(args) {
  if (args.att) return args.att;
  if (process.env.SIAMESE_DATA) return process.env.SIAMESE_DATA;
  return path.resolve(root, '..', 'shared', 'data', 'att_faces');
}

// The cached files this script reads must match the sha256 pinned in the repository.
function verifyPinned(dir, files) {
  const pinned = new Map();
  const sums = path.join(root, 'pipeline', 'weights', `face-api-${kVersion}.sha256`);
  for (const line of fs.readFileSync(sums, 'utf8').split('\n')) {
    const m = line.match(/^([0-9a-f]{64})\s+\*?(.+)$/);
    if (m) pinned.set(m[2], m[1]);
  }
  for (const f of files) {
    const file = path.join(dir, f);
    if (!fs.existsSync(file)) die(`${file}: missing: fetch the pinned package with tests/fetch_weights.sh`);
    const sha = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    if (sha !== pinned.get(f)) {
      die(`${file}: sha256 ${sha} differs from the pinned ${pinned.get(f)}: run tests/fetch_weights.sh`);
    }
  }
}

// Loads dist/face-api.js (an IIFE bundle with tfjs inside). Its bundler replaced node's "util"
// by an empty shim, so tfjs's node platform fails with "TextEncoder is not a constructor":
// the shim is pointed at require("util") here, in memory (the cached file is not changed).
function loadFaceApi(dir) {
  const file = path.join(dir, 'dist', 'face-api.js');
  let src = fs.readFileSync(file, 'utf8');
  const use = src.match(/this\.util=([A-Za-z_$][\w$]*)\(\),this\.textEncoder=new this\.util\.TextEncoder/);
  if (!use) die(`${file}: cannot find tfjs's util use to patch (another build of face-api?)`);
  const shim = use[1].replace(/\$/g, '\\$');
  const decl = new RegExp(`([,;\\s])${shim}=[A-Za-z_$][\\w$]*\\(\\(\\)=>\\{\\}\\)`);
  if (!decl.test(src)) die(`${file}: cannot find the empty util shim to patch`);
  src = src.replace(decl, (all, before) => `${before}${use[1]}=()=>require("util")`);
  src += '\nmodule.exports = faceapi;\n';
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  mod._compile(src, file);
  return mod.exports;
}

function clamp8(v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }

const kFaceSide = 150;

// The drawn 150x150 face of seed, HWC RGB bytes; integer arithmetic only
// (tests/test_model_fixtures.cpp drawn_reference_face repeats it).
function drawnFace(seed) {
  const px = new Uint8Array(kFaceSide * kFaceSide * 3);
  const cx = 73 + (seed % 5);
  const cy = 77 + (seed % 3);
  const ax = 42 + (seed % 7);
  const ay = 56 + (seed % 4);
  for (let y = 0; y < kFaceSide; y += 1) {
    for (let x = 0; x < kFaceSide; x += 1) {
      let r = (40 + x + 13 * seed) % 256;
      let g = (90 + y + 29 * seed) % 256;
      let b = (150 + ((x + y) >> 1) + 7 * seed) % 256;
      const dx = x - cx;
      const dy = y - cy;
      if (dx * dx * ay * ay + dy * dy * ax * ax <= ax * ax * ay * ay) {
        r = clamp8(205 - (y >> 3) + 3 * seed);
        g = clamp8(165 - (y >> 3) + seed);
        b = clamp8(135 - ((dx * dx) >> 6));
        const ey = y - (cy - 14);
        for (const ex of [cx - 17, cx + 17]) {
          if ((x - ex) * (x - ex) + 2 * ey * ey <= 40) { r = 40; g = 30; b = 25 + seed; }
        }
        if (Math.abs(dx) <= 14 && y >= cy + 24 && y <= cy + 28) { r = 150; g = 50; b = 60; }
        if (Math.abs(dx) <= 2 && y >= cy - 5 && y <= cy + 10) { r = 170; g = 120; b = 100; }
      }
      putRgb(px, (y * kFaceSide + x) * 3, r, g, b);
    }
  }
  return px;
}

// Stores one RGB pixel at byte offset i of an HWC buffer.
function putRgb(px, i, r, g, b) {
  px[i] = r;
  px[i + 1] = g;
  px[i + 2] = b;
}

// Writes a fixture as JSON, one value per line but number lists on one line, to the file out
// (or stdout when out is not given).
function writeFixture(fixture, out) {
  const text = `${JSON.stringify(fixture, null, 1).replace(
    /\[\s*(-?\d[\d.e+-]*(?:,\s*-?\d[\d.e+-]*)*)\s*\]/g,
    (all, list) => `[${list.split(/,\s*/).join(', ')}]`,
  )}\n`;
  if (out) fs.writeFileSync(out, text);
  else process.stdout.write(text);
}

// Reads "--flag value" pairs and bare switches into an object. valueFlags maps a flag to its
// key ({ '--jpeg-js': 'jpegJs' }), switches likewise; anything else is an error naming it.
function parseFlags(argv, valueFlags, switches = {}, defaults = {}) {
  const args = { ...defaults };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (switches[a]) {
      args[switches[a]] = true;
    } else if (valueFlags[a]) {
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      i += 1;
      args[valueFlags[a]] = argv[i];
    } else {
      die(`unknown argument ${a}`);
    }
  }
  return args;
}

// An 8-bit binary PGM: width, height and its pixel bytes.
function readPgm(file) {
  const buf = fs.readFileSync(file);
  const fields = [];
  let i = 0;
  while (fields.length < 4) {
    while (i < buf.length && /\s/.test(String.fromCharCode(buf[i]))) i += 1;
    if (buf[i] === 0x23) { // '#' comment to the end of the line
      while (i < buf.length && buf[i] !== 0x0a) i += 1;
      continue;
    }
    let token = '';
    while (i < buf.length && !/\s/.test(String.fromCharCode(buf[i]))) token += String.fromCharCode(buf[i++]);
    if (!token) die(`${file}: truncated PGM header`);
    fields.push(token);
  }
  i += 1; // the single whitespace after maxval
  const [magic, w, h, max] = [fields[0], Number(fields[1]), Number(fields[2]), Number(fields[3])];
  if (magic !== 'P5' || max !== 255 || buf.length < i + w * h) die(`${file}: not an 8-bit binary PGM`);
  return { width: w, height: h, data: buf.subarray(i, i + w * h) };
}

function fnv1a32(bytes) {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i += 1) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

module.exports = {
  kVersion, root, setToolName, forTool, die, weightsDir, attDir, verifyPinned, loadFaceApi, clamp8, readPgm,
  fnv1a32, kFaceSide, drawnFace, parseFlags, putRgb, writeFixture,
};
