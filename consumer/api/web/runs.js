// Runs page: newest first, filters (status, phase, job, kind), "Load more" paging with the
// API's cursor, refreshed every 2 s while a listed run is running.
import {getJSON} from './api.js';
import {h, clear, labelledSelect, labelledInput, tableWrap, statusBadge} from './dom.js';
import {timeEl, duration, formatTime} from './fmt.js';

const STATUSES = [['', 'Any status'], ['running', 'Running'], ['stale', 'Stale'],
  ['completed', 'Completed'], ['partial', 'Partial'], ['failed', 'Failed']];

export function progressText(run) {
  const c = run.counters || {};
  if (c.sites_total > 0) return `${c.sites_completed || 0} / ${c.sites_total} sites`;
  if (c.batches_total > 0) return `batch ${c.batch_current || 0} / ${c.batches_total}`;
  return '';
}

function progressFraction(run) {
  const c = run.counters || {};
  if (c.sites_total > 0) return Math.min(1, (c.sites_completed || 0) / c.sites_total);
  if (c.batches_total > 0) {
    const done = run.status === 'running' ? (c.batch_current || 1) - 1 : (c.batch_current || 0);
    return Math.min(1, Math.max(0, done / c.batches_total));
  }
  return null;
}

function progressCell(run) {
  const f = progressFraction(run);
  const text = progressText(run);
  if (f === null) return h('td', {'data-label': 'Progress'}, h('span.muted', null, '—'));
  return h('td.progress-cell', {'data-label': 'Progress'},
    h('progress', {max: '100', value: String(Math.round(f * 100)), 'aria-label': `Progress: ${text}`}),
    h('span.small', null, text));
}

function row(run) {
  const label = run.paused ? ' (paused)' : '';
  return h('tr', {dataset: {runId: run.run_id, status: run.stale ? 'stale' : run.status}},
    h('th', {scope: 'row'}, h('a', {href: `#/run/${encodeURIComponent(run.run_id)}`}, run.job)),
    h('td', {'data-label': 'Kind'}, run.kind),
    h('td', {'data-label': 'Status'}, h('span', null, statusBadge(run.status, run.stale), label)),
    h('td', {'data-label': 'Phase'}, run.phase || h('span.muted', null, '—')),
    h('td', {'data-label': 'Started'}, timeEl(run.started_at)),
    h('td.num', {'data-label': 'Duration'}, duration(run.elapsed_seconds)),
    progressCell(run));
}

export async function render(main, query, ctx) {
  const f = {
    status: query.get('status') || '', phase: query.get('phase') || '',
    job: query.get('job') || '', kind: query.get('kind') || '',
  };
  // Page size: 50, or the address's limit (1..500), e.g. #/runs?limit=20.
  const lim = Number.parseInt(query.get('limit') || '', 10);
  const PAGE = lim >= 1 && lim <= 500 ? lim : 50;
  let rows = [];
  let cursor = null;
  let loading = false;
  let gen = 0; // bumped by every reload, so an older refresh answer is dropped

  const tbody = h('tbody');
  const status = h('p.status-line', {role: 'status', 'aria-live': 'polite'});
  const more = h('button.secondary', {type: 'button', hidden: true, onclick: () => load(false)},
    'Load more runs');
  const jobList = h('datalist', {id: 'job-names'});
  const kindList = h('datalist', {id: 'kind-names'});

  const syncHash = () => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    if (PAGE !== 50) q.set('limit', String(PAGE));
    const hash = q.toString() ? `#/runs?${q}` : '#/runs';
    // replaceState: no hashchange, so the page (and the focused control) stays.
    if (location.hash !== hash) history.replaceState(null, '', hash);
  };
  const apply = () => { syncHash(); load(true); };
  const form = h('form.filters', {role: 'search', 'aria-label': 'Filter runs',
    onsubmit: (e) => {
      e.preventDefault();
      f.phase = form.elements.phase.value.trim();
      f.job = form.elements.job.value.trim();
      f.kind = form.elements.kind.value.trim();
      apply();
    }},
  labelledSelect('status', 'Status', STATUSES, f.status, (e) => { f.status = e.target.value; apply(); }),
  labelledInput('job', 'Job', f.job, {list: 'job-names', autocomplete: 'off'}),
  labelledInput('kind', 'Kind', f.kind, {list: 'kind-names', autocomplete: 'off'}),
  labelledInput('phase', 'Phase', f.phase, {autocomplete: 'off'}),
  h('div.field.buttons', null,
    h('button', {type: 'submit'}, 'Apply filters'),
    h('button.secondary', {type: 'button', onclick: () => {
      f.status = f.phase = f.job = f.kind = '';
      form.reset();
      for (const el of form.elements) if (el.type === 'text') el.value = '';
      form.elements.status.value = '';
      apply();
    }}, 'Clear')),
  jobList, kindList);

  const table = h('table.runs', null,
    h('caption', null, 'Runs, newest first'),
    h('thead', null, h('tr', null,
      ['Job', 'Kind', 'Status', 'Phase', 'Started', 'Duration', 'Progress'].map(
        (t) => h('th', {scope: 'col'}, t)))),
    tbody);

  main.append(h('h1', null, 'Runs'), form, status, tableWrap('Runs table', table), more);

  // Suggestions for the job/kind filters (best effort).
  getJSON('/api/jobs').then((r) => {
    const kinds = new Set();
    for (const j of r.jobs) { jobList.append(h('option', {value: j.job})); kinds.add(j.kind); }
    for (const k of kinds) if (k) kindList.append(h('option', {value: k}));
  }).catch(() => {});

  const params = (limit, cur) => Object.assign({limit, cursor: cur}, f);

  function draw() {
    clear(tbody);
    if (!rows.length) {
      tbody.append(h('tr', null, h('td', {colspan: '7'}, 'No runs match these filters.')));
    }
    for (const r of rows) tbody.append(row(r));
    more.hidden = !cursor;
  }

  async function load(reset) {
    if (loading && !reset) return;
    loading = true;
    const my = ++gen;
    try {
      const r = await getJSON('/api/runs', params(PAGE, reset ? null : cursor));
      if (my !== gen) return;
      rows = reset ? r.runs : rows.concat(r.runs);
      cursor = r.next_cursor;
      draw();
      stamp();
      if (rows.some((x) => x.status === 'running')) poll.start();
    } catch (e) {
      status.textContent = `Could not load runs: ${e.message}`;
    } finally {
      loading = false;
    }
  }

  function stamp() {
    const running = rows.filter((x) => x.status === 'running').length;
    status.textContent = `${rows.length} run${rows.length === 1 ? '' : 's'} shown` +
      (running ? `, ${running} running — refreshing every 2 s` : '') +
      `. Updated ${formatTime(new Date(), true)}.`;
  }

  // Refresh: reload as many rows as are shown (capped by the API's 500), keeping the cursor.
  const poll = ctx.poller(2000, async () => {
    if (loading) return true;
    const limit = Math.min(500, Math.max(PAGE, rows.length));
    const my = gen;
    const r = await getJSON('/api/runs', params(limit, null));
    if (my !== gen) return true;
    rows = r.runs;
    cursor = r.next_cursor;
    draw();
    stamp();
    return rows.some((x) => x.status === 'running');
  });

  await load(true);
  return () => poll.stop();
}
