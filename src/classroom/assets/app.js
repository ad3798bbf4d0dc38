// The participant's page of an occlab class session: join, instructions, practice with feedback,
// the sequences, each submitted to the server (saved to disk there before the reply). The token
// is kept in localStorage, so a reload, a lost connection or a closed tab continue at the next
// unanswered sequence. Keyboard, mouse and touch all work; nothing is loaded from elsewhere.
'use strict';

const TOKEN_KEY = 'occlab-class-token';
const $ = (id) => document.getElementById(id);

let token = localStorage.getItem(TOKEN_KEY);
let st = null; // the last /api/state
let trial = null; // the sequence being answered
let busy = false; // a submission is on its way
let introSeen = false;
let firstLoad = true;
let timerId = null;

function show(screen) {
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== 'screen-' + screen;
  document.body.dataset.screen = screen;
}

function say(text, isError) {
  const el = $('status');
  el.hidden = !text;
  el.textContent = text || '';
  el.classList.toggle('error', !!isError);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One request. Throws {status, message}; status 0 is a network failure.
async function request(method, path, body) {
  const headers = {};
  if (token) headers['Authorization'] = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, {
      method, headers, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw { status: 0, message: 'no connection to the quiz server' };
  }
  if (!r.ok) {
    let reason = 'HTTP ' + r.status;
    try { const j = await r.json(); if (j && j.error) reason = j.error; } catch (_) { /* not JSON */ }
    throw { status: r.status, message: reason };
  }
  return r;
}

// Retries network failures and server errors (5xx) until the server answers; a 4xx is thrown.
async function persist(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await request(method, path, body);
      if (attempt > 0) say('');
      return r;
    } catch (e) {
      if (e.status >= 400 && e.status < 500) throw e;
      say('Connection lost: ' + e.message + '. Retrying… your answers are kept.', true);
      await sleep(Math.min(500 * (attempt + 1), 3000));
    }
  }
}

function forget() {
  token = null;
  localStorage.removeItem(TOKEN_KEY);
}

async function load() {
  if (!token) { showJoin(); return; }
  let r;
  try {
    r = await persist('GET', '/api/state');
  } catch (e) {
    if (e.status === 401) { forget(); say(e.message + '.', true); showJoin(); return; }
    say(e.message, true);
    return;
  }
  st = await r.json();
  $('progress').textContent = st.name ? st.name : st.participant;
  if (!st.next) { showDone(); return; }
  if (st.submitted === 0 && !introSeen) { showIntro(); return; }
  if (firstLoad && st.submitted > 0) {
    say('Welcome back: ' + st.submitted + ' of ' + st.total + ' sequences are saved; continuing.');
  }
  firstLoad = false;
  await startTrial(st.next);
}

function showJoin() {
  const m = /(?:^#|&)code=([A-Za-z0-9]+)/.exec(location.hash);
  if (m && !$('join-code').value) $('join-code').value = m[1].toUpperCase();
  show('join');
  if (!$('join-code').value) $('join-code').focus();
}

async function join(ev) {
  ev.preventDefault();
  const code = $('join-code').value.trim();
  const name = $('join-name').value.trim();
  $('join-button').disabled = true;
  try {
    // An id of this join, kept until it succeeds: a join sent again after a lost reply gets
    // the same token instead of making a second participant.
    let request = localStorage.getItem('occlab-join-request');
    if (!request) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      request = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
      localStorage.setItem('occlab-join-request', request);
    }
    const r = await persist('POST', '/api/join', { code, name, request });
    token = (await r.json()).token;
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.removeItem('occlab-join-request');
    say('');
    await load();
  } catch (e) {
    say(e.message + '.', true);
  } finally {
    $('join-button').disabled = false;
  }
}

function showIntro() {
  const box = $('instructions');
  box.replaceChildren();
  for (const para of st.instructions.split('\n\n')) {
    const p = document.createElement('p');
    p.textContent = para;
    box.appendChild(p);
  }
  show('intro');
  firstLoad = false;
}

async function startTrial(next) {
  show('loading');
  const urls = [];
  for (let pos = 0; pos < next.images; pos++) {
    const r = await persist('GET', '/api/image/' + next.item + '/' + pos);
    urls.push(URL.createObjectURL(await r.blob()));
  }
  if (trial) for (const u of trial.urls) URL.revokeObjectURL(u);
  const now = performance.now();
  trial = {
    item: next.item,
    practice: next.practice,
    urls,
    answers: new Array(next.images).fill(null),
    answerMs: new Array(next.images).fill(null),
    corrections: 0,
    selected: 0,
    t0: now,
    limitMs: st.time_limit_ms,
    deadline: next.remaining_ms == null ? null : now + next.remaining_ms,
  };
  $('trial-label').textContent = next.label;
  $('progress').textContent = (st.name || st.participant) + ' · ' + st.submitted + '/' + st.total + ' saved';
  buildCells();
  buildKeypad();
  $('trial-hint').textContent = st.legend_needed
    ? 'Tap a class or press its number key. ←/→ select, Backspace clears, Enter submits.'
    : 'Type the answer or tap it. ←/→ select, Backspace clears, Enter submits.';
  render();
  show('trial');
  if (timerId) clearInterval(timerId);
  timerId = trial.deadline == null ? null : setInterval(tick, 200);
  tick();
}

function buildCells() {
  const cells = $('cells');
  cells.replaceChildren();
  trial.urls.forEach((url, pos) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'cell';
    b.dataset.pos = pos;
    const img = document.createElement('img');
    img.src = url;
    img.alt = 'image ' + (pos + 1);
    const a = document.createElement('span');
    a.className = 'answer';
    b.append(img, a);
    b.addEventListener('click', () => { trial.selected = pos; render(); });
    cells.appendChild(b);
  });
}

function buildKeypad() {
  const pad = $('keypad');
  pad.replaceChildren();
  const named = st.class_names.some((n) => n.length > 2);
  pad.classList.toggle('named', named);
  const keyOf = new Map(st.legend.map(([k, n]) => [n, k]));
  st.class_names.forEach((name, cls) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'key';
    b.dataset.class = cls;
    const k = keyOf.get(name);
    b.textContent = st.legend_needed && k !== undefined ? k + ' ' + name : name;
    b.addEventListener('click', () => answerSelected(cls));
    pad.appendChild(b);
  });
}

function label(cls) {
  return cls === null ? '' : st.class_names[cls];
}

function render() {
  const cells = $('cells').children;
  for (let i = 0; i < cells.length; i++) {
    cells[i].classList.toggle('selected', i === trial.selected);
    cells[i].querySelector('.answer').textContent = label(trial.answers[i]);
  }
  $('submit-button').disabled = busy || !trial.answers.every((a) => a !== null);
}

function expired() {
  return trial.deadline != null && performance.now() >= trial.deadline;
}

function answerSelected(cls) {
  if (!trial || busy || expired()) return;
  const pos = trial.selected;
  const old = trial.answers[pos];
  if (old !== cls) {
    if (old !== null) trial.corrections++;
    trial.answers[pos] = cls;
    trial.answerMs[pos] = performance.now() - trial.t0;
  }
  const t = trial.answers.length;
  let next = Math.min(pos + 1, t - 1);
  for (let k = 1; k <= t; k++) {
    const p = (pos + k) % t;
    if (trial.answers[p] === null) { next = p; break; }
  }
  trial.selected = next;
  render();
}

function move(delta) {
  if (!trial || busy) return;
  trial.selected = Math.max(0, Math.min(trial.answers.length - 1, trial.selected + delta));
  render();
}

function clearSelected() {
  if (!trial || busy || expired()) return;
  if (trial.answers[trial.selected] === null && trial.selected > 0) trial.selected--;
  if (trial.answers[trial.selected] !== null) {
    trial.answers[trial.selected] = null;
    trial.answerMs[trial.selected] = null;
    trial.corrections++;
  }
  render();
}

function tick() {
  const el = $('timer');
  if (!trial || trial.deadline == null) { el.textContent = ''; return; }
  const left = trial.deadline - performance.now();
  el.textContent = Math.max(0, Math.ceil(left / 1000)) + ' s';
  el.classList.toggle('low', left < 5000);
  if (left <= 0 && !busy) submit(true);
}

async function submit(timedOut) {
  if (!trial || busy) return;
  if (!timedOut && !trial.answers.every((a) => a !== null)) return;
  busy = true;
  if (timerId) { clearInterval(timerId); timerId = null; }
  render();
  const elapsed = performance.now() - trial.t0;
  const body = {
    item: trial.item,
    answers: trial.answers,
    answer_ms: trial.answerMs.map((ms) => (ms === null ? null : Math.round(ms * 10) / 10)),
    sequence_ms: timedOut && trial.limitMs != null ? trial.limitMs : Math.round(elapsed * 10) / 10,
    corrections: trial.corrections,
    timed_out: !!timedOut,
  };
  say('Saving…');
  let reply;
  try {
    reply = await (await persist('POST', '/api/submit', body)).json();
    say('');
  } catch (e) {
    busy = false;
    if (e.status === 401) { forget(); say(e.message + '.', true); showJoin(); return; }
    say('The server refused the sequence: ' + e.message + '.', true);
    await load();
    return;
  }
  busy = false;
  $('timer').textContent = '';
  if (reply.feedback) showFeedback(reply.feedback);
  else await load();
}

function showFeedback(fb) {
  const right = fb.filter((f) => f.correct).length;
  $('feedback-summary').textContent = right + ' of ' + fb.length + ' right.';
  const list = $('feedback-list');
  list.replaceChildren();
  for (const f of fb) {
    const li = document.createElement('li');
    li.className = f.correct ? 'right' : 'wrong';
    li.textContent = f.correct
      ? '✓ ' + f.truth
      : '✗ ' + (f.answer === null ? 'no answer' : 'you: ' + f.answer) + ', right: ' + f.truth;
    list.appendChild(li);
  }
  show('feedback');
}

function showDone() {
  if (timerId) { clearInterval(timerId); timerId = null; }
  $('timer').textContent = '';
  $('progress').textContent = (st.name || st.participant) + ' · ' + st.total + '/' + st.total + ' saved';
  $('done-text').textContent = 'All ' + st.total + ' sequences are saved. You can close this page.';
  show('done');
}

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const screen = document.body.dataset.screen;
  if (screen === 'intro' && e.key === 'Enter') { e.preventDefault(); introSeen = true; load(); return; }
  if (screen === 'feedback' && e.key === 'Enter') { e.preventDefault(); load(); return; }
  if (screen !== 'trial' || !trial) return;
  if (e.key === 'ArrowLeft') { e.preventDefault(); move(-1); return; }
  if (e.key === 'ArrowRight') { e.preventDefault(); move(1); return; }
  if (e.key === 'Backspace') { e.preventDefault(); clearSelected(); return; }
  if (e.key === 'Enter') { e.preventDefault(); submit(false); return; }
  const hit = st.keys.find(([k]) => k === e.key);
  if (hit) { e.preventDefault(); answerSelected(hit[1]); }
});

$('join-form').addEventListener('submit', join);
$('start-button').addEventListener('click', () => { introSeen = true; load(); });
$('continue-button').addEventListener('click', () => load());
$('prev-button').addEventListener('click', () => move(-1));
$('next-button').addEventListener('click', () => move(1));
$('clear-button').addEventListener('click', clearSelected);
$('submit-button').addEventListener('click', () => submit(false));
load();
