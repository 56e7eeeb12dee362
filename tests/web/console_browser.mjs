// Drives headless Chromium over the DevTools protocol (node 20's WebSocket, no packages)
// through siamese-access-control's web console, for tests/test_web_console.cpp:
//   node --experimental-websocket console_browser.mjs --url URL --token T --shots DIR
//        --phase enroll|verified|denied --name NAME [--photos a.png,b.png] [--since ISO]
// enroll:   loads Live, Health, Decisions, People (a screenshot of each), enrolls NAME from the
//           photos through the People page's form;
// verified: the Decisions page filtered to NAME's grants since --since, then removes NAME
//           through the People page (two clicks);
// denied:   the Decisions page's grants of NAME, all grants and all denials since --since.
// Prints one line of JSON with what the pages showed; exits 1 with the reason on failure.
import {spawn} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const sleep = ms => new Promise(r => setTimeout(r, ms));
const base = args.url.replace(/\/$/, '');
const profile = mkdtempSync(join(tmpdir(), 'siamese-chromium-'));
const chromeArgs = ['--headless=new', '--disable-gpu', '--no-first-run', '--no-default-browser-check',
  '--remote-debugging-port=0', '--user-data-dir=' + profile, '--window-size=1280,900', 'about:blank'];
if (process.getuid && process.getuid() === 0) chromeArgs.unshift('--no-sandbox');  // root: no sandbox
// Its own process group, so the helpers it starts (zygote, renderers) stop with it.
const chrome = spawn(args.chromium || 'chromium', chromeArgs, {stdio: 'ignore', detached: true});

let socket, nextId = 1;
const waiting = new Map();
function send(method, params = {}) {
  const id = nextId++;
  socket.send(JSON.stringify({id, method, params}));
  return new Promise((resolve, reject) => waiting.set(id, {resolve, reject, method}));
}
async function evaluate(expression) {
  const r = await send('Runtime.evaluate', {expression, awaitPromise: true, returnByValue: true});
  if (r.exceptionDetails) throw new Error('page: ' + JSON.stringify(r.exceptionDetails));
  return r.result.value;
}
async function until(what, expression, seconds = 60) {
  for (let i = 0; i < seconds * 10; ++i) {
    const v = await evaluate(expression);
    if (v) return v;
    await sleep(100);
  }
  const message = await evaluate("document.getElementById('message')?.textContent || ''");
  throw new Error('timed out waiting for ' + what + (message ? ' (page says: ' + message + ')' : ''));
}
async function open(path, ready) {
  await send('Page.navigate', {url: base + path});
  await until(path + ' to load', `document.body && document.body.dataset.ready === '${ready}'`);
}
async function shot(name) {
  const r = await send('Page.captureScreenshot', {format: 'png'});
  writeFileSync(join(args.shots, name + '.png'), Buffer.from(r.data, 'base64'));
}
const rowCount = () => evaluate("Number(document.getElementById('pager').dataset.total)");
const rowTracks = () => evaluate("[...document.querySelectorAll('#decisions tbody tr')].map(r => Number(r.dataset.track))");

async function connect() {
  const portFile = join(profile, 'DevToolsActivePort');
  for (let i = 0; i < 300 && !existsSync(portFile); ++i) await sleep(100);
  const port = readFileSync(portFile, 'utf8').split('\n')[0];
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const page = targets.find(t => t.type === 'page');
  socket = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
  socket.onmessage = e => {
    const m = JSON.parse(e.data);
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.error) w.reject(new Error(w.method + ': ' + m.error.message)); else w.resolve(m.result);
  };
  await send('Page.enable');
  await send('Runtime.enable');
}

async function main() {
  await connect();
  const seen = {phase: args.phase};
  // The token goes where the page keeps it (sessionStorage), as the header form does.
  await send('Page.navigate', {url: base + '/health'});
  await until('the shell', "document.readyState === 'complete'");
  await evaluate(`sessionStorage.setItem('siamese-access-control-token', ${JSON.stringify(args.token)})`);
  const name = JSON.stringify(args.name);
  const since = encodeURIComponent(args.since || '');
  if (args.phase === 'enroll') {
    await open('/live', 'live');
    await until('a camera picture', "[...document.querySelectorAll('img[data-camera]')].some(i => i.naturalWidth > 0)");
    await shot('live');
    await open('/health', 'health');
    seen.pipeline = await evaluate("document.getElementById('pipeline-state').textContent");
    await shot('health');
    await open('/decisions', 'decisions');
    seen.decisions = await rowCount();
    await shot('decisions');
    await open('/people', 'people');
    seen.before = await evaluate("[...document.querySelectorAll('#people tbody tr')].map(r => r.dataset.name)");
    await evaluate(`document.getElementById('enroll-name').value = ${name}`);
    const input = await send('Runtime.evaluate', {expression: "document.getElementById('enroll-photos')"});
    await send('DOM.setFileInputFiles', {files: args.photos.split(','), objectId: input.result.objectId});
    await evaluate("document.getElementById('enroll-submit').click()");
    await until('the enrollment', "/^enrolled|error/.test(document.getElementById('message').textContent + document.getElementById('message').className)");
    seen.message = await evaluate("document.getElementById('message').textContent");
    await until('the new person in the list', `!!document.querySelector('#people tr[data-name=' + CSS.escape(${name}) + ']')`);
    seen.after = await evaluate("[...document.querySelectorAll('#people tbody tr')].map(r => r.dataset.name)");
    await shot('people-enrolled');
  } else if (args.phase === 'verified') {
    await open(`/decisions?person=${encodeURIComponent(args.name)}&decision=grant&since=${since}`, 'decisions');
    seen.grants = await rowCount();
    seen.identities = await evaluate("[...document.querySelectorAll('#decisions tbody tr')].map(r => r.dataset.identity)");
    seen.tracks = await rowTracks();
    await shot('decisions-verified');
    await open('/people', 'people');
    const remove = `document.querySelector('#people tr[data-name=' + CSS.escape(${name}) + '] button.remove')`;
    await evaluate(remove + '.click()');
    seen.armed = await evaluate(remove + '.textContent');
    await evaluate(remove + '.click()');
    await until('the person to leave the list', `!document.querySelector('#people tr[data-name=' + CSS.escape(${name}) + ']')`);
    seen.message = await evaluate("document.getElementById('message').textContent");
    seen.after = await evaluate("[...document.querySelectorAll('#people tbody tr')].map(r => r.dataset.name)");
    await shot('people-removed');
  } else if (args.phase === 'denied') {
    await open(`/decisions?person=${encodeURIComponent(args.name)}&decision=grant&since=${since}`, 'decisions');
    seen.grants = await rowCount();
    await open(`/decisions?decision=grant&since=${since}`, 'decisions');
    seen.granted_tracks = await rowTracks();
    await open(`/decisions?decision=deny&since=${since}`, 'decisions');
    seen.denials = await rowCount();
    seen.denied_tracks = await rowTracks();
    await shot('decisions-denied');
  } else {
    throw new Error('unknown --phase ' + args.phase);
  }
  console.log(JSON.stringify(seen));
}

let status = 0;
try {
  await main();
} catch (e) {
  console.error('console_browser: ' + e.message);
  status = 1;
} finally {
  if (socket) socket.close();
  try {
    process.kill(-chrome.pid, 'SIGTERM');
  } catch (e) {
    chrome.kill();
  }
  await new Promise(r => chrome.exitCode !== null ? r() : chrome.once('exit', r));
  try {
    // A helper may still be writing its profile for a moment: retry, and never fail on it.
    rmSync(profile, {recursive: true, force: true, maxRetries: 10, retryDelay: 200});
  } catch (e) {
    console.error('console_browser: could not remove ' + profile + ': ' + e.message);
  }
}
process.exit(status);
