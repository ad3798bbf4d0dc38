// The teacher page of an occlab class session: the join address and QR code, who has joined and
// how far they are, the class against the chosen runs on the same images (95 % Wilson
// intervals), updated every two seconds. The teacher token comes in the page's fragment
// (#<token>), which the browser never sends to the server in the address.
'use strict';

const $ = (id) => document.getElementById(id);
// Read at every request: a teacher who pastes the right address over a wrong one is let in.
const auth = () => ({ Authorization: 'Bearer ' + location.hash.replace(/^#/, '') });

function say(text) {
  const el = $('status');
  el.hidden = !text;
  el.textContent = text || '';
  el.classList.add('error');
}

function pct(score) {
  if (!score) return '–';
  return (score.accuracy * 100).toFixed(1) + ' % [' + (score.low * 100).toFixed(1) + ', ' +
    (score.high * 100).toFixed(1) + '] (' + score.correct + '/' + score.total + ')';
}

function who(row) {
  return row.who.kind === 'group' ? 'Class (' + row.who.group + ')' : row.who.model + ' (' + row.who.run + ')';
}

function cell(tr, text, cls) {
  const td = document.createElement(tr.parentElement && tr.parentElement.tagName === 'THEAD' ? 'th' : 'td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function table(el, head, rows) {
  el.replaceChildren();
  const thead = el.createTHead();
  const hr = thead.insertRow();
  for (const h of head) { const th = document.createElement('th'); th.textContent = h; hr.appendChild(th); }
  const body = el.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    for (const v of r) {
      if (v instanceof Node) { const td = tr.insertCell(); td.appendChild(v); } else cell(tr, v, 'num');
    }
  }
}

function render(status) {
  const v = status.view;
  $('join-url').textContent = status.join_url.replace(/#.*$/, '');
  $('join-code').textContent = v.join_code;
  const finished = v.participants.filter((p) => p.finished).length;
  $('counts').textContent = v.participants.length + ' joined, ' + finished + ' finished';
  const levels = new Set();
  for (const row of v.report.rows) for (const c of row.conditions) for (const [l] of c.by_level) levels.add(l);
  const lv = [...levels].sort((a, b) => a - b);
  const head = ['', 'all', 'with patterns', 'without patterns', ...lv.map((l) => 'level ' + l)];
  const rows = v.report.rows.map((row) => {
    const cond = (name) => row.conditions.find((c) => c.condition === name);
    const byLevel = (l) => {
      let correct = 0, total = 0;
      for (const c of row.conditions) for (const [k, s] of c.by_level) if (k === l) { correct += s.correct; total += s.total; }
      return total ? (100 * correct / total).toFixed(1) + ' % (' + correct + '/' + total + ')' : '–';
    };
    return [who(row), pct(row.overall), pct(cond('patterned') && cond('patterned').score),
      pct(cond('random') && cond('random').score), ...lv.map(byLevel)];
  });
  table($('scores'), head, rows);
  table($('people'), ['participant', 'name', 'saved', ''], v.participants.map((p) => {
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = (8 * p.submitted / Math.max(1, p.total)) + 'em';
    return [p.participant, p.name, p.submitted + '/' + p.total + (p.finished ? ' ✓' : ''), bar];
  }));
  $('report').textContent = v.report_text;
  $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
}

async function poll() {
  try {
    const r = await fetch('/api/teacher/status', { headers: auth(), cache: 'no-store' });
    if (!r.ok) {
      let reason = 'HTTP ' + r.status;
      try { reason = (await r.json()).error || reason; } catch (_) { /* not JSON */ }
      say(reason + (r.status === 401 || r.status === 403 ? ': open the teacher address the server printed.' : ''));
    } else {
      say('');
      render(await r.json());
    }
  } catch (e) {
    say('no connection to the class server; retrying');
  }
  setTimeout(poll, 2000);
}

async function qr() {
  try {
    const r = await fetch('/api/teacher/qr.png', { headers: auth() });
    if (r.ok) { $('qr').src = URL.createObjectURL(await r.blob()); return; }
  } catch (_) { /* retried below */ }
  setTimeout(qr, 2000);
}

$('csv-button').addEventListener('click', async () => {
  const r = await fetch('/api/teacher/answers.csv', { headers: auth(), cache: 'no-store' });
  if (!r.ok) { say('the CSV could not be fetched: HTTP ' + r.status); return; }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(await r.blob());
  a.download = 'class-answers.csv';
  a.click();
});

qr();
poll();
