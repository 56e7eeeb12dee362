#!/usr/bin/env node
// Reference 68-point landmarks of @vladmandic/face-api 1.7.15's landmark networks
// (FaceLandmark68Net and FaceLandmark68TinyNet), computed by the package's own JavaScript
// (dist/face-api.js with its bundled tfjs, CPU backend) from the cache tests/fetch_weights.sh
// fills. Its output is tests/fixtures/face_api_landmarks.json (numbers only), which
// tests/test_face_landmarks.cpp compares with the C++ import (points within 0.5 px).
//
// Each case is an image and a face box; face-api crops the box (extractFaceTensors), pads it to
// a square, resizes it to 112x112 and maps the points back (detectLandmarks); the fixture holds
// the points in image pixels. Images (the C++ test rebuilds or reads the same pixels):
//   synthetic-N  the drawn 150x150 face of tests/reference/face_api_embeddings.js, seed N
//   att:sK/F     an AT&T face (PGM, byte for byte), gray copied to R, G and B
//   lfw:NAME     an LFW photo (250x250 JPEG), decoded by jpeg-js (--jpeg-js DIR: a folder whose
//                node_modules holds jpeg-js 0.4.4); the C++ test decodes it with OpenCV, whose
//                bytes may differ by a level or two: the fixture records each image's FNV-1a 32
//                hash so the test can say whether both sides saw the same pixels
//
// Usage: node tests/reference/face_api_landmarks.js [--weights DIR] [--att DIR] [--lfw DIR]
//          [--jpeg-js DIR] [--out FILE]
// DIR defaults: $SIAMESE_WEIGHTS_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/gst-siamese/
// face-api-1.7.15; AT&T: $SIAMESE_DATA, else ../shared/data/att_faces; LFW: $SIAMESE_LFW, else
// ../shared/data/lfw beside the repository. Without --jpeg-js the LFW cases are left out.
'use strict';

const {
  kVersion, root, weightsDir, verifyPinned, loadFaceApi, readPgm, fnv1a32, die, drawnFace,
  parseFlags, writeFixture, putRgb,
} = require('./face_api_common').forTool('face_api_landmarks');

const fs = require('fs');
const path = require('path');

const kSide = 150;
// [image, [x, y, width, height]]: whole images, square and non-square boxes inside them.
const kCases = [
  ['synthetic-0', [0, 0, 150, 150]],
  ['synthetic-1', [20, 25, 110, 110]],
  ['synthetic-2', [10, 5, 130, 140]],
  ['att:s1/1.pgm', [0, 0, 92, 112]],
  ['att:s2/1.pgm', [4, 14, 84, 84]],
  ['att:s3/5.pgm', [0, 10, 92, 92]],
  ['att:s7/3.pgm', [6, 8, 80, 96]],
  ['lfw:Aaron_Eckhart/Aaron_Eckhart_0001.jpg', [65, 65, 120, 120]],
  ['lfw:Abdullah_Gul/Abdullah_Gul_0001.jpg', [60, 55, 130, 140]],
  ['lfw:George_W_Bush/George_W_Bush_0002.jpg', [70, 70, 110, 110]],
  ['lfw:Serena_Williams/Serena_Williams_0001.jpg', [50, 50, 150, 150]],
];

function parseArgs(argv) {
  return parseFlags(argv, {
    '--weights': 'weights', '--att': 'att', '--lfw': 'lfw', '--jpeg-js': 'jpegJs', '--out': 'out',
  });
}

function dataDir(given, env, name) {
  if (given) return given;
  if (process.env[env]) return process.env[env];
  return path.resolve(root, '..', 'shared', 'data', name);
}

// The pixels of one image name: { width, height, data: HWC RGB bytes }.
function loadImage(name, args) {
  if (name.startsWith('synthetic-')) {
    return { width: kSide, height: kSide, data: drawnFace(Number(name.slice(10))) };
  }
  if (name.startsWith('att:')) {
    const file = path.join(dataDir(args.att, 'SIAMESE_DATA', 'att_faces'), name.slice(4));
    if (!fs.existsSync(file)) die(`${file}: AT&T face not found (set SIAMESE_DATA or pass --att)`);
    const img = readPgm(file);
    const data = new Uint8Array(img.width * img.height * 3);
    for (let i = 0; i < img.width * img.height; i += 1) {
      data[3 * i] = img.data[i];
      data[3 * i + 1] = img.data[i];
      data[3 * i + 2] = img.data[i];
    }
    return { width: img.width, height: img.height, data };
  }
  if (name.startsWith('lfw:')) {
    if (!args.jpegJs) return null;
    const jpeg = require(require.resolve('jpeg-js', { paths: [args.jpegJs] }));
    const file = path.join(dataDir(args.lfw, 'SIAMESE_LFW', 'lfw'), name.slice(4));
    if (!fs.existsSync(file)) die(`${file}: LFW photo not found (set SIAMESE_LFW or pass --lfw)`);
    const img = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: false });
    return { width: img.width, height: img.height, data: img.data };
  }
  die(`unknown image ${name}`);
  return null;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dir = weightsDir(args);
  verifyPinned(dir, ['dist/face-api.js', 'model/face_landmark_68_model-weights_manifest.json',
    'model/face_landmark_68_model.bin', 'model/face_landmark_68_tiny_model-weights_manifest.json',
    'model/face_landmark_68_tiny_model.bin']);
  const faceapi = loadFaceApi(dir);
  const { tf } = faceapi;
  await tf.setBackend('cpu');
  await tf.ready();
  const nets = { full: faceapi.nets.faceLandmark68Net, tiny: faceapi.nets.faceLandmark68TinyNet };
  await nets.full.loadFromDisk(path.join(dir, 'model'));
  await nets.tiny.loadFromDisk(path.join(dir, 'model'));

  const cases = [];
  const images = new Map();
  for (const [name, box] of kCases) {
    if (!images.has(name)) images.set(name, loadImage(name, args));
    const img = images.get(name);
    if (!img) continue;
    const [x, y, w, h] = box;
    if (x < 0 || y < 0 || x + w > img.width || y + h > img.height) die(`${name}: box leaves the image`);
    const tensor = tf.tensor3d(Float32Array.from(img.data), [img.height, img.width, 3], 'float32');
    const [face] = await faceapi.extractFaceTensors(tensor, [new faceapi.Rect(x, y, w, h)]);
    const entry = { image: name, width: img.width, height: img.height, fnv1a32: fnv1a32(img.data), box };
    for (const [kind, net] of Object.entries(nets)) {
      const marks = await net.detectLandmarks(face);
      // Positions are in the crop's pixels; the crop starts at the box's corner.
      entry[kind] = marks.positions.map((p) => [+(p.x + x).toFixed(4), +(p.y + y).toFixed(4)]);
    }
    face.dispose();
    tensor.dispose();
    cases.push(entry);
  }
  const fixture = {
    description: 'Landmarks (68 points, image pixels) of @vladmandic/face-api\'s FaceLandmark68Net (full) and FaceLandmark68TinyNet (tiny), computed by face-api\'s JavaScript for the images and boxes of tests/reference/face_api_landmarks.js',
    generated_by: 'node tests/reference/face_api_landmarks.js --jpeg-js DIR --out tests/fixtures/face_api_landmarks.json',
    package: `@vladmandic/face-api ${kVersion} dist/face-api.js`,
    tfjs: tf.version_core,
    backend: tf.getBackend(),
    node: process.version,
    jpeg_decoder: args.jpegJs ? 'jpeg-js 0.4.4' : null,
    cases,
  };
  writeFixture(fixture, args.out);
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
