#!/usr/bin/env node
// Reference embeddings of @vladmandic/face-api 1.7.15's face recognition network, computed by
// the package's own JavaScript (dist/face-api.js with the tfjs it bundles, CPU backend) from the
// cache that tests/fetch_weights.sh fills. Its output is tests/fixtures/face_api_embeddings.json,
// which tests/test_pretrained.cpp compares with the C++ import (within 1e-4).
//
// Both sides embed the SAME 150x150 RGB uint8 pixels, built by integer arithmetic that
// test_pretrained.cpp repeats exactly (no resizing, no JPEG decoder on either side), so the
// comparison tests the network, not preprocessing:
//   synthetic-N  a drawn face (ellipse, eyes, nose, mouth) on coloured gradients, seed N
//   att:sK/F     an AT&T face (PGM, read byte for byte): its centred square (92x92 of 92x112)
//                stretched to 150x150 by nearest neighbour (src = dst * side / 150, integer
//                division), gray copied to R, G and B
// Each input's FNV-1a 32 hash of its HWC bytes is recorded, so a test can tell a different
// input from a different network.
//
// Usage:
//   node tests/reference/face_api_embeddings.js [--weights DIR] [--att DIR] [--out FILE]
//   node tests/reference/face_api_embeddings.js --bench [--batches 1,8,32] [--seconds 2]
//        [--inputs FILE]
// DIR defaults: $SIAMESE_WEIGHTS_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/gst-siamese/
// face-api-1.7.15; AT&T: $SIAMESE_DATA, else ../shared/data/att_faces beside the repository.
// --bench prints one JSON line per batch size: embeddings/s of face-api's forward pass, on the
// synthetic faces or on FILE's (raw float32 150x150x3 HWC pixel values 0..255, face after face,
// as samples/bench/dlib_bench.cpp writes them).
'use strict';

const {
  kVersion, weightsDir, attDir, verifyPinned, loadFaceApi, readPgm, fnv1a32, die, drawnFace,
  parseFlags, writeFixture, putRgb,
} = require('./face_api_common').forTool('face_api_embeddings');

const fs = require('fs');
const path = require('path');

const kSide = 150;
const kSyntheticSeeds = [0, 1, 2];
const kAttFiles = ['s1/1.pgm', 's1/2.pgm', 's2/1.pgm', 's3/5.pgm'];

function parseArgs(argv) {
  const args = parseFlags(argv, {
    '--weights': 'weights', '--att': 'att', '--out': 'out', '--batches': 'batches',
    '--seconds': 'seconds', '--inputs': 'inputs',
  }, { '--bench': 'bench' }, { bench: false, batches: '1,8,32', seconds: '2' });
  args.batches = String(args.batches).split(',').map(Number);
  args.seconds = Number(args.seconds);
  if (args.batches.some((b) => !Number.isInteger(b) || b < 1)) die('--batches: positive integers');
  if (!(args.seconds > 0)) die('--seconds: a positive number');
  return args;
}

function attFace(file) {
  const img = readPgm(file);
  const side = Math.min(img.width, img.height);
  const x0 = (img.width - side) >> 1;
  const y0 = (img.height - side) >> 1;
  const px = new Uint8Array(kSide * kSide * 3);
  for (let y = 0; y < kSide; y += 1) {
    const sy = y0 + Math.floor((y * side) / kSide);
    for (let x = 0; x < kSide; x += 1) {
      const v = img.data[sy * img.width + x0 + Math.floor((x * side) / kSide)];
      putRgb(px, (y * kSide + x) * 3, v, v, v);
    }
  }
  return px;
}

function buildInputs(args) {
  const inputs = kSyntheticSeeds.map((seed) => ({ name: `synthetic-${seed}`, kind: 'synthetic', seed, pixels: drawnFace(seed) }));
  const att = attDir(args);
  for (const f of kAttFiles) {
    const file = path.join(att, f);
    if (!fs.existsSync(file)) die(`${file}: AT&T face not found (set SIAMESE_DATA or pass --att)`);
    inputs.push({ name: `att:${f}`, kind: 'att', file: f, pixels: attFace(file) });
  }
  return inputs;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dir = weightsDir(args);
  verifyPinned(dir, ['dist/face-api.js', 'model/face_recognition_model-weights_manifest.json', 'model/face_recognition_model.bin']);
  const faceapi = loadFaceApi(dir);
  const { tf } = faceapi;
  await tf.setBackend('cpu');
  await tf.ready();
  const net = faceapi.nets.faceRecognitionNet;
  await net.loadFromDisk(path.join(dir, 'model')); // face-api's own loader and dequantisation

  if (args.bench) {
    const faceFloats = kSide * kSide * 3;
    let tensors;
    if (args.inputs) {
      const buf = fs.readFileSync(args.inputs);
      const count = Math.floor(buf.length / (faceFloats * 4));
      if (count < 1 || buf.length !== count * faceFloats * 4) die(`${args.inputs}: not whole 150x150x3 float32 faces`);
      const all = new Float32Array(buf.buffer, buf.byteOffset, count * faceFloats);
      tensors = [];
      for (let i = 0; i < count; i += 1) tensors.push(tf.tensor3d(all.slice(i * faceFloats, (i + 1) * faceFloats), [kSide, kSide, 3], 'float32'));
    } else {
      tensors = kSyntheticSeeds.map((seed) => tf.tensor3d(Float32Array.from(drawnFace(seed)), [kSide, kSide, 3], 'float32'));
    }
    for (const batch of args.batches) {
      const list = [];
      for (let i = 0; i < batch; i += 1) list.push(tensors[i % tensors.length]);
      const netInput = await faceapi.toNetInput(list);
      const once = async () => {
        const out = net.forwardInput(netInput);
        await out.data();
        out.dispose();
      };
      await once(); // warm-up
      let runs = 0;
      const start = process.hrtime.bigint();
      let elapsed = 0;
      do {
        await once();
        runs += 1;
        elapsed = Number(process.hrtime.bigint() - start) / 1e9;
      } while (elapsed < args.seconds);
      process.stdout.write(`${JSON.stringify({
        side: 'face-api.js', backend: tf.getBackend(), tfjs: tf.version_core, batch, runs,
        seconds: elapsed, embeddings_per_s: (batch * runs) / elapsed,
      })}\n`);
    }
    return;
  }

  const inputs = buildInputs(args);
  const tensors = inputs.map((inp) => tf.tensor3d(Float32Array.from(inp.pixels), [kSide, kSide, 3], 'float32'));
  const out = net.forwardInput(await faceapi.toNetInput(tensors));
  const values = await out.array();
  out.dispose();
  const fixture = {
    description: 'Embeddings of @vladmandic/face-api\'s face recognition network (dlib ResNet) computed by face-api\'s JavaScript; inputs are 150x150 RGB uint8 images defined in tests/reference/face_api_embeddings.js and repeated by tests/test_pretrained.cpp',
    generated_by: 'node tests/reference/face_api_embeddings.js --out tests/fixtures/face_api_embeddings.json',
    package: `@vladmandic/face-api ${kVersion} dist/face-api.js`,
    tfjs: tf.version_core,
    backend: tf.getBackend(),
    node: process.version,
    inputs: inputs.map((inp) => {
      const entry = { name: inp.name, kind: inp.kind };
      if (inp.kind === 'synthetic') entry.seed = inp.seed;
      else entry.file = inp.file;
      entry.fnv1a32 = fnv1a32(inp.pixels);
      return entry;
    }),
    embeddings: values,
  };
  // One line per embedding.
  writeFixture(fixture, args.out);
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
