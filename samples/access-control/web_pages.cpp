#include "web_pages.h"

#include <map>

namespace siamese::samples {

namespace {

constexpr const char* kShell = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>siamese-access-control</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <strong>siamese-access-control</strong>
  <nav>
    <a href="/live" data-page="live">Live</a>
    <a href="/decisions" data-page="decisions">Decisions</a>
    <a href="/people" data-page="people">People</a>
    <a href="/health" data-page="health">Health</a>
  </nav>
  <form id="token-form">
    <input id="token" type="password" placeholder="token" autocomplete="off">
    <button id="save-token" type="submit">Use token</button>
    <span id="whoami"></span>
  </form>
</header>
<main id="main"></main>
<p id="message" role="status"></p>
</body>
</html>
)HTML";

constexpr const char* kStyle = R"CSS(
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #f6f6f4; }
header { display: flex; gap: 1.5em; align-items: center; padding: .6em 1em; background: #24323f;
  color: #fff; flex-wrap: wrap; }
header a { color: #cfe3f7; margin-right: 1em; text-decoration: none; }
header a.current { color: #fff; font-weight: bold; border-bottom: 2px solid #fff; }
#token-form { margin-left: auto; }
#whoami { margin-left: .5em; color: #cfe3f7; }
main { padding: 1em; }
h2 { margin: .2em 0 .6em; font-size: 1.2em; }
table { border-collapse: collapse; background: #fff; margin-bottom: 1em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
.grant, .verified { color: #0a6b2c; font-weight: bold; }
.deny, .revoke, .tailgate { color: #a4161a; font-weight: bold; }
.cameras { display: flex; gap: 1em; flex-wrap: wrap; }
.camera { background: #fff; padding: .6em; border: 1px solid #ddd; }
.camera img { display: block; max-width: 640px; min-width: 320px; min-height: 240px;
  background: #000; }
form.inline { display: inline; }
input[type=number] { width: 6em; }
#message { padding: 0 1em; min-height: 1.4em; }
#message.error { color: #a4161a; }
.filters { margin-bottom: .8em; display: flex; gap: .5em; flex-wrap: wrap; align-items: end; }
.filters label { display: flex; flex-direction: column; font-size: .85em; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dt { font-weight: bold; }
)CSS";

constexpr const char* kScript = R"JS('use strict';
// The console's script: plain DOM, data shown with textContent only (names come from users).
const page = (location.pathname.replace(/^\/+/, '') || 'live').split('/')[0];
const main = document.getElementById('main');
const tokenKey = 'siamese-access-control-token';

function token() { return sessionStorage.getItem(tokenKey) || ''; }
function authHeaders(extra) {
  const h = Object.assign({}, extra || {});
  if (token()) h['Authorization'] = 'Bearer ' + token();
  return h;
}
async function api(path, options) {
  const o = Object.assign({}, options || {});
  o.headers = authHeaders(o.headers);
  const r = await fetch(path, o);
  const type = r.headers.get('Content-Type') || '';
  const body = type.startsWith('application/json') ? await r.json() : await r.blob();
  if (!r.ok) throw new Error((body && body.error) || ('HTTP ' + r.status));
  return body;
}
function say(text, isError) {
  const m = document.getElementById('message');
  m.textContent = text;
  m.className = isError ? 'error' : 'ok';
}
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function num(x, digits) { return x === null || x === undefined ? '' : Number(x).toFixed(digits); }
function table(headings, rows, id) {
  const t = el('table', id ? {id} : {});
  t.append(el('thead', {}, el('tr', {}, ...headings.map(h => el('th', {}, h)))));
  const b = el('tbody');
  rows.forEach(r => b.append(r));
  t.append(b);
  return t;
}
function reasonOf(r) {
  const parts = [];
  if (r.distance !== null && r.distance !== undefined) parts.push('distance ' + num(r.distance, 3));
  if (r.threshold !== null && r.threshold !== undefined) parts.push('threshold ' + num(r.threshold, 3));
  if (r.margin !== null && r.margin !== undefined) parts.push('margin ' + num(r.margin, 3));
  if (r.votes) parts.push(r.votes + ' votes');
  if (r.reason) parts.push(r.reason);
  return parts.join(', ');
}

// Server-sent events read through fetch, so the token travels in a header, never in the URL.
async function events(onEvent) {
  for (;;) {
    try {
      const r = await fetch('/api/events', {headers: authHeaders()});
      if (!r.ok) throw new Error('HTTP ' + r.status);
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, {stream: true});
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').filter(l => l.startsWith('data: ')).map(l => l.slice(6));
          if (data.length) onEvent(JSON.parse(data.join('\n')));
        }
      }
    } catch (e) {
      say('event stream: ' + e.message, true);
    }
    await new Promise(r => setTimeout(r, 2000));
  }
}

async function showLive() {
  main.append(el('h2', {}, 'Live'));
  const cams = el('div', {class: 'cameras'});
  const actions = el('div', {id: 'actions'});
  main.append(cams, el('h2', {}, 'Recent decisions'), actions);
  const boxes = {};
  function camera(name) {
    if (boxes[name]) return boxes[name];
    const img = el('img', {alt: 'camera ' + name, 'data-camera': name});
    const faces = el('div', {class: 'faces'});
    const box = el('div', {class: 'camera'}, el('strong', {}, name), img, faces);
    cams.append(box);
    boxes[name] = {img, faces};
    return boxes[name];
  }
  async function refresh(name) {
    try {
      const blob = await api('/api/cameras/' + encodeURIComponent(name) + '/frame.jpg');
      const b = camera(name);
      const old = b.img.src;
      b.img.src = URL.createObjectURL(blob);
      if (old) URL.revokeObjectURL(old);
    } catch (e) { /* no picture yet */ }
  }
  events(live => {
    for (const c of live.cameras) {
      const b = camera(c.name);
      b.faces.replaceChildren(table(['track', 'state', 'identity', 'distance'],
        c.faces.map(f => el('tr', {}, el('td', {}, f.track), el('td', {class: f.state}, f.state),
          el('td', {}, f.identity), el('td', {}, num(f.distance, 3))))));
      b.faces.prepend(el('div', {}, num(c.fps, 1) + ' frames/s'));
    }
    actions.replaceChildren(table(['time', 'camera', 'decision', 'identity', 'track', 'reason'],
      live.actions.map(a => el('tr', {}, el('td', {}, a.time), el('td', {}, a.camera),
        el('td', {class: a.decision}, a.decision), el('td', {}, a.identity), el('td', {}, a.track),
        el('td', {}, reasonOf(a)))), 'live-actions'));
    document.body.dataset.ready = 'live';
  });
  const live = await api('/api/live');
  for (const c of live.cameras) camera(c.name);
  setInterval(() => Object.keys(boxes).forEach(refresh), 500);
  Object.keys(boxes).forEach(refresh);
}

async function showDecisions() {
  main.append(el('h2', {}, 'Decisions'));
  const params = new URLSearchParams(location.search);
  const field = (name, label, type) => el('label', {}, label,
    el('input', {id: 'f-' + name, name, type: type || 'text', value: params.get(name) || ''}));
  const decision = el('select', {id: 'f-decision', name: 'decision'},
    ...['', 'grant', 'deny', 'revoke', 'tailgate', 'closed', 'verified', 'unknown', 'pending']
      .map(d => { const o = el('option', {value: d}, d || 'any'); o.selected = d === (params.get('decision') || ''); return o; }));
  const form = el('form', {class: 'filters', id: 'filters'}, field('camera', 'camera'),
    field('person', 'person'), el('label', {}, 'decision', decision),
    field('since', 'since (UTC, e.g. 2026-11-30T18:00)'), field('until', 'until'),
    el('button', {id: 'f-apply', type: 'submit'}, 'Filter'));
  const results = el('div', {id: 'results'});
  const changes = el('div', {id: 'changes'});
  main.append(form, results, el('h2', {}, 'Changes made from the console'), changes);
  let pageNo = Number(params.get('page') || 1);
  // A denied track whose face crops were kept (--keep-crops): enroll them under a name.
  function enrollCrop(r) {
    const name = el('input', {class: 'crop-name', placeholder: 'name'});
    return el('span', {}, name, el('button', {class: 'enroll-crop', onclick: async () => {
      try {
        const out = await api('/api/people/' + encodeURIComponent(name.value) + '/from-track', {
          method: 'POST', headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({track: r.track, camera: r.camera})});
        say('enrolled ' + out.enrolled + ' from ' + out.photos + ' crops of track ' + r.track);
      } catch (e) { say(e.message, true); }
    }}, 'Enroll as'));
  }
  async function load() {
    const q = new URLSearchParams(new FormData(form));
    for (const [k, v] of [...q.entries()]) if (!v) q.delete(k);
    q.set('page', pageNo);
    history.replaceState(null, '', '/decisions?' + q);
    try {
      const d = await api('/api/decisions?' + q);
      const rows = d.rows.map(r => el('tr', {'data-decision': r.decision, 'data-identity': r.identity, 'data-track': r.track},
        el('td', {}, r.time), el('td', {}, r.camera), el('td', {}, r.track),
        el('td', {class: r.decision}, r.decision), el('td', {}, r.identity),
        el('td', {}, reasonOf(r)), el('td', {}, r.crop ? enrollCrop(r) : '')));
      const pages = Math.max(1, Math.ceil(d.total / d.per_page));
      results.replaceChildren(
        table(['time (UTC)', 'camera', 'track', 'decision', 'identity', 'reason', 'kept crop'], rows, 'decisions'),
        el('div', {id: 'pager', 'data-total': d.total}, el('button', {id: 'prev', onclick: () => { pageNo--; load(); }}, 'newer'),
          ' page ' + d.page + ' of ' + pages + ' (' + d.total + ' rows) ',
          el('button', {id: 'next', onclick: () => { pageNo++; load(); }}, 'older')));
      document.getElementById('prev').disabled = d.page <= 1;
      document.getElementById('next').disabled = d.page >= pages;
      const c = await api('/api/changes');
      changes.replaceChildren(table(['time (UTC)', 'who', 'action', 'person', 'detail'],
        c.map(r => el('tr', {}, el('td', {}, r.time), el('td', {}, r.who), el('td', {}, r.action),
          el('td', {}, r.identity), el('td', {}, r.detail))), 'changes-table'));
      document.body.dataset.ready = 'decisions';
    } catch (e) { say(e.message, true); }
  }
  form.addEventListener('submit', e => { e.preventDefault(); pageNo = 1; load(); });
  await load();
}

async function showPeople() {
  main.append(el('h2', {}, 'People'));
  const list = el('div', {id: 'people-list'});
  const name = el('input', {id: 'enroll-name', name: 'name', required: '', placeholder: 'name'});
  const photos = el('input', {id: 'enroll-photos', name: 'photos', type: 'file', multiple: '',
    accept: 'image/jpeg,image/png,image/bmp,image/x-portable-graymap'});
  const enroll = el('form', {id: 'enroll'}, el('h2', {}, 'Enroll from photos'),
    'one face per photo; nothing is stored unless every photo is usable ', el('br'), name, ' ',
    photos, ' ', el('button', {id: 'enroll-submit', type: 'submit'}, 'Enroll'));
  main.append(list, enroll);
  async function change(what, path, options) {
    try {
      await api(path, options);
      say(what);
    } catch (e) { say(e.message, true); }
    await load();
  }
  const json = body => ({method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(body)});
  async function load() {
    try {
      const p = await api('/api/people');
      list.replaceChildren(el('p', {}, 'gallery ' + p.gallery + '; gallery threshold ' +
        (p.threshold === null ? 'the model\'s' : num(p.threshold, 3))),
        table(['name', 'embeddings', 'negatives', 'threshold', 'updated (UTC)', 'change'],
        p.people.map(person => {
          const path = '/api/people/' + encodeURIComponent(person.name);
          const newName = el('input', {class: 'new-name', placeholder: 'new name'});
          const t = el('input', {class: 'threshold', type: 'number', step: '0.001', min: '0',
            value: person.threshold === null ? '' : person.threshold});
          const remove = el('button', {class: 'remove'}, 'Remove');
          remove.addEventListener('click', () => {
            if (remove.dataset.armed) return change('removed ' + person.name, path, {method: 'DELETE'});
            remove.dataset.armed = '1';
            remove.textContent = 'Really remove ' + person.name + '?';
          });
          return el('tr', {'data-name': person.name}, el('td', {}, person.name),
            el('td', {}, person.embeddings), el('td', {}, person.negatives),
            el('td', {}, person.threshold === null ? 'gallery\'s' : num(person.threshold, 3)),
            el('td', {}, person.updated),
            el('td', {}, newName, el('button', {class: 'rename', onclick: () => change(
              'renamed ' + person.name, path + '/rename', json({to: newName.value}))}, 'Rename'), ' ',
              t, el('button', {class: 'set-threshold', onclick: () => change('threshold of ' +
                person.name + ' set', path + '/threshold',
                json({threshold: t.value === '' ? null : Number(t.value)}))}, 'Set threshold'), ' ',
              remove));
        }), 'people'));
      document.body.dataset.ready = 'people';
    } catch (e) { say(e.message, true); }
  }
  enroll.addEventListener('submit', async e => {
    e.preventDefault();
    const body = new FormData();
    body.append('name', name.value);
    for (const f of photos.files) body.append('photos', f, f.name);
    say('enrolling ' + name.value + ' ...');
    try {
      const r = await api('/api/people', {method: 'POST', body});
      say('enrolled ' + r.enrolled + ' from ' + r.photos + ' photos');
    } catch (err) { say(err.message, true); }
    await load();
  });
  await load();
}

async function showHealth() {
  main.append(el('h2', {}, 'Health'));
  const box = el('div', {id: 'health'});
  main.append(box);
  async function load() {
    try {
      const h = await api('/api/health');
      const mg = h.model_and_gallery;
      box.replaceChildren(el('dl', {}, el('dt', {}, 'pipeline'), el('dd', {id: 'pipeline-state'}, h.pipeline),
        el('dt', {}, 'model'), el('dd', {}, mg.model + (mg.model_fingerprint ? ' (' + mg.model_fingerprint + ')' : '')),
        el('dt', {}, 'gallery'), el('dd', {}, mg.gallery + ': ' + (mg.gallery_error || (mg.people + ' people, ' + mg.embeddings + ' embeddings'))),
        el('dt', {}, 'console'), el('dd', {}, (h.console.https ? 'HTTPS' : 'HTTP') + ', ' + (h.console.writable ? 'changes need a token' : 'read-only (no token file)'))),
        table(['camera', 'frames/s', 'frames', 'pictures'], h.cameras.map(c => el('tr', {},
          el('td', {}, c.name), el('td', {}, num(c.fps, 1)), el('td', {}, c.frames), el('td', {}, c.jpegs))), 'health-cameras'),
        el('h2', {}, 'Errors'), h.errors.length ? el('ul', {id: 'errors'}, ...h.errors.map(e => el('li', {}, e))) : el('p', {id: 'errors'}, 'none'));
      document.body.dataset.ready = 'health';
    } catch (e) { say(e.message, true); }
  }
  await load();
  setInterval(load, 2000);
}

async function start() {
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === page) a.className = 'current';
  }
  const input = document.getElementById('token');
  document.getElementById('token-form').addEventListener('submit', e => {
    e.preventDefault();
    sessionStorage.setItem(tokenKey, input.value);
    input.value = '';
    location.reload();
  });
  try {
    const me = await api('/api/whoami');
    document.getElementById('whoami').textContent = me.writable ? 'signed in as ' + me.name : 'read-only';
  } catch (e) {
    document.getElementById('whoami').textContent = e.message;
  }
  const pages = {live: showLive, decisions: showDecisions, people: showPeople, health: showHealth};
  await (pages[page] || showLive)();
}
start();
)JS";

}  // namespace

const Asset* find_asset(const std::string& path) {
  static const std::map<std::string, Asset> assets = [] {
    std::map<std::string, Asset> m;
    for (const char* p : {"/", "/live", "/decisions", "/people", "/health"}) {
      m[p] = {"text/html; charset=utf-8", kShell};
    }
    m["/app.css"] = {"text/css; charset=utf-8", kStyle};
    m["/app.js"] = {"text/javascript; charset=utf-8", kScript};
    return m;
  }();
  const auto it = assets.find(path);
  return it != assets.end() ? &it->second : nullptr;
}

}  // namespace siamese::samples
