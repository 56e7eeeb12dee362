#!/usr/bin/env node
// Reference detections of @vladmandic/face-api 1.7.15's TinyFaceDetector, computed by the
// package's own JavaScript (dist/face-api.js with the tfjs it bundles, CPU backend) from the
// cache that tests/fetch_weights.sh fills. Its output is tests/fixtures/face_api_detections.json,
// which tests/test_tiny_face_detector.cpp compares with the C++ detector (boxes within 1.5 px or
// IoU >= 0.95, scores within 0.01).
//
// Both sides detect on the SAME RGB uint8 frames, built by integer arithmetic that
// test_tiny_face_detector.cpp repeats exactly (no JPEG decoder on either side); face-api pads
// each frame to a square and resizes it itself, so the comparison covers that preprocessing too:
//   synthetic-N  drawn heads (hair, face, eyes, brows, nose, mouth) on a gradient, several sizes
//   att:sK/F     an AT&T face (PGM, read byte for byte) placed as siamese::place_on_background
//                places it: centred on mid-gray (128) three times its size, gray copied to R, G, B
// Each frame's FNV-1a 32 hash of its HWC bytes is recorded, so a test can tell a different input
// from a different detector. The raw network output of one frame is recorded as well.
//
// Usage: node tests/reference/face_api_detections.js [--weights DIR] [--att DIR] [--out FILE]
// DIR defaults: $SIAMESE_WEIGHTS_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/gst-siamese/
// face-api-1.7.15; AT&T: $SIAMESE_DATA, else ../shared/data/att_faces beside the repository.
'use strict';

const {
  kVersion, weightsDir, attDir, verifyPinned, loadFaceApi, clamp8, readPgm, fnv1a32, die,
  parseFlags, writeFixture, putRgb,
} = require('./face_api_common').forTool('face_api_detections');

const fs = require('fs');
const path = require('path');

const kInputSizes = [416, 320, 224];
const kScoreThreshold = 0.2;
const kAttFiles = ['s1/1.pgm', 's2/1.pgm', 's5/3.pgm', 's10/7.pgm', 's21/4.pgm', 's34/9.pgm'];
// width, height, background seed, heads {cx, cy, ax (half width), ay (half height)}
const kSynthetic = [
  { w: 640, h: 480, seed: 0, heads: [{ cx: 200, cy: 220, ax: 70, ay: 92 }, { cx: 470, cy: 260, ax: 40, ay: 52 }] },
  { w: 300, h: 500, seed: 1, heads: [{ cx: 150, cy: 210, ax: 85, ay: 110 }] },
  { w: 385, h: 289, seed: 2, heads: [{ cx: 120, cy: 140, ax: 50, ay: 64 }, { cx: 290, cy: 150, ax: 36, ay: 46 }] },
];

function parseArgs(argv) {
  return parseFlags(argv, { '--weights': 'weights', '--att': 'att', '--out': 'out' });
}

function idiv(a, b) { return Math.trunc(a / b); } // C++ integer division

function inEllipse(x, y, cx, cy, ax, ay) {
  const dx = x - cx;
  const dy = y - cy;
  return dx * dx * ay * ay + dy * dy * ax * ax <= ax * ax * ay * ay;
}

// Drawn heads on a gradient, HWC RGB bytes; integer arithmetic only (the C++ test repeats it).
function syntheticFrame(spec) {
  const { w, h, seed, heads } = spec;
  const px = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < w; x += 1) {
      let r = (30 + idiv(x * 5, 8) + 17 * seed) % 256;
      let g = (60 + idiv(y * 3, 4) + 31 * seed) % 256;
      let b = (120 + idiv(x + y, 4) + 5 * seed) % 256;
      for (const { cx, cy, ax, ay } of heads) {
        if (inEllipse(x, y, cx, cy - idiv(ay, 6), idiv(ax * 9, 8), idiv(ay * 9, 8))) {
          r = 60; g = 42; b = 30; // hair
        }
        if (y >= cy - idiv(ay, 3) && inEllipse(x, y, cx, cy, ax, ay)) {
          const shade = idiv((y - cy) * 24, ay);
          r = clamp8(214 - shade);
          g = clamp8(170 - shade);
          b = clamp8(140 - shade - idiv(Math.abs(x - cx) * 20, ax));
          const eyeY = cy - idiv(ay, 6);
          for (const ex of [cx - idiv(ax * 2, 5), cx + idiv(ax * 2, 5)]) {
            if (inEllipse(x, y, ex, eyeY, idiv(ax, 5), idiv(ay, 14))) { r = 235; g = 235; b = 230; }
            if (inEllipse(x, y, ex, eyeY, idiv(ax, 12), idiv(ay, 14))) { r = 45; g = 35; b = 30; }
            if (Math.abs(x - ex) <= idiv(ax, 5) && y >= eyeY - idiv(ay, 6) && y <= eyeY - idiv(ay, 8)) {
              r = 70; g = 50; b = 40; // brow
            }
          }
          if (Math.abs(x - cx) <= idiv(ax, 14) && y >= eyeY && y <= cy + idiv(ay, 5)) {
            r = clamp8(r - 30); g = clamp8(g - 35); b = clamp8(b - 35); // nose
          }
          if (inEllipse(x, y, cx, cy + idiv(ay * 2, 5), idiv(ax, 3), idiv(ay, 12))) {
            r = 160; g = 60; b = 65; // mouth
          }
        }
      }
      putRgb(px, (y * w + x) * 3, r, g, b);
    }
  }
  return px;
}

// place_on_background: a margin of the image's size on each side, mid-gray 128.
function attPlaced(file) {
  const img = readPgm(file);
  const w = img.width * 3;
  const h = img.height * 3;
  const px = new Uint8Array(w * h * 3).fill(128);
  for (let y = 0; y < img.height; y += 1) {
    for (let x = 0; x < img.width; x += 1) {
      const v = img.data[y * img.width + x];
      putRgb(px, ((y + img.height) * w + x + img.width) * 3, v, v, v);
    }
  }
  return { w, h, px };
}

function round6(v) { return Math.round(v * 1e6) / 1e6; }

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dir = weightsDir(args);
  verifyPinned(dir, ['dist/face-api.js', 'model/tiny_face_detector_model-weights_manifest.json', 'model/tiny_face_detector_model.bin']);
  const faceapi = loadFaceApi(dir);
  const { tf } = faceapi;
  await tf.setBackend('cpu');
  await tf.ready();
  const net = faceapi.nets.tinyFaceDetector;
  await net.loadFromDisk(path.join(dir, 'model'));

  const frames = kSynthetic.map((s, i) => ({ name: `synthetic-${i}`, kind: 'synthetic', index: i, w: s.w, h: s.h, px: syntheticFrame(s) }));
  const att = attDir(args);
  for (const f of kAttFiles) {
    const file = path.join(att, f);
    if (!fs.existsSync(file)) die(`${file}: AT&T face not found (set SIAMESE_DATA or pass --att)`);
    const { w, h, px } = attPlaced(file);
    frames.push({ name: `att:${f}`, kind: 'att', file: f, w, h, px });
  }

  const entries = [];
  for (const f of frames) {
    const tensor = tf.tensor3d(Float32Array.from(f.px), [f.h, f.w, 3], 'float32');
    const entry = { name: f.name, kind: f.kind };
    if (f.kind === 'synthetic') entry.index = f.index;
    else entry.file = f.file;
    Object.assign(entry, { width: f.w, height: f.h, fnv1a32: fnv1a32(f.px), detections: {} });
    for (const inputSize of kInputSizes) {
      const options = new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: kScoreThreshold });
      const found = await net.locateFaces(tensor, options);
      entry.detections[inputSize] = found.map((d) => ({
        x: round6(d.box.x), y: round6(d.box.y), width: round6(d.box.width), height: round6(d.box.height), score: round6(d.score),
      }));
    }
    entries.push(entry);
    tensor.dispose();
  }

  // The raw head output [1, S, S, 25] of the first frame at the smallest input size.
  const rawSize = kInputSizes[kInputSizes.length - 1];
  const first = tf.tensor3d(Float32Array.from(frames[0].px), [frames[0].h, frames[0].w, 3], 'float32');
  const out = net.forwardInput(await faceapi.toNetInput(first), rawSize);
  const raw = { frame: frames[0].name, input_size: rawSize, shape: out.shape, values: Array.from(await out.data()).map(round6) };
  out.dispose();
  first.dispose();

  const fixture = {
    description: 'Detections of @vladmandic/face-api\'s TinyFaceDetector computed by face-api\'s JavaScript (locateFaces, box in frame pixels, score); frames are RGB uint8 images defined in tests/reference/face_api_detections.js and repeated by tests/test_tiny_face_detector.cpp',
    generated_by: 'node tests/reference/face_api_detections.js --out tests/fixtures/face_api_detections.json',
    package: `@vladmandic/face-api ${kVersion} dist/face-api.js`,
    tfjs: tf.version_core,
    backend: tf.getBackend(),
    node: process.version,
    score_threshold: kScoreThreshold,
    input_sizes: kInputSizes,
    frames: entries,
    raw_output: raw,
  };
  writeFixture(fixture, args.out);
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
