// Run detail: timing, pause state, progress with ETA, counters, error, and a live log tail
// (coloured by level, level filter, auto-scroll off by default). Refreshes every 2 s while
// the run is running.
import {getJSON} from './api.js';
import {h, append, clear, labelledSelect, statusBadge, tableWrap} from './dom.js';
import {timeEl, duration, percent, num, formatTime} from './fmt.js';

const MAX_LINES = 5000;
const LEVELS = [['', 'All levels'], ['info', 'Info'], ['success', 'Success'],
  ['warning', 'Warning'], ['error', 'Error']];

function dl(pairs) {
  return h('dl.facts', null, pairs.filter(Boolean).map(([k, v]) =>
    [h('dt', null, k), h('dd', null, v)]));
}

function json(v) {
  return h('pre.json', null, JSON.stringify(v, null, 2));
}

function kvTable(caption, obj) {
  const keys = Object.keys(obj || {});
  if (!keys.length) return null;
  return tableWrap(caption, h('table.kv', null, h('caption', null, caption),
    h('thead', null, h('tr', null, h('th', {scope: 'col'}, 'Name'), h('th', {scope: 'col'}, 'Value'))),
    h('tbody', null, keys.sort().map((k) => h('tr', null, h('th', {scope: 'row'}, k),
      h('td.num', null, typeof obj[k] === 'object' ? JSON.stringify(obj[k]) : num(obj[k])))))));
}

function progressSection(run) {
  const p = run.progress || {};
  const parts = [];
  if (p.unit) {
    const pct = Number.isFinite(p.percent) ? p.percent : 0;
    const label = `${num(p.done)} of ${num(p.total)} ${p.unit} (${percent(pct)})`;
    parts.push(h('div.bar-line', null,
      h('label', {for: 'run-progress'}, 'Progress'),
      h('progress', {id: 'run-progress', max: '100', value: String(Math.min(100, Math.max(0, pct)))}),
      h('span.bar-text', {id: 'progress-text'}, label)));
    let eta = '—';
    if (run.status === 'running' && Number.isFinite(p.estimated_remaining_seconds)) {
      const at = new Date(Date.now() + p.estimated_remaining_seconds * 1000);
      eta = `about ${duration(p.estimated_remaining_seconds)} (around ${formatTime(at, true)})`;
    } else if (run.status !== 'running') {
      eta = 'finished';
    }
    parts.push(dl([
      ['Remaining', h('span', {id: 'eta'}, eta)],
      ['Average per unit', Number.isFinite(p.average_seconds_per_unit) ? duration(p.average_seconds_per_unit) : '—'],
      run.batch && run.batch.total ? ['Batch', `${num(run.batch.current)} of ${num(run.batch.total)}`] : null,
    ]));
  } else if (run.batch && run.batch.total) {
    parts.push(dl([['Batch', `${num(run.batch.current)} of ${num(run.batch.total)}`]]));
  } else {
    parts.push(h('p.muted', null, 'This run reports no sites or batches.'));
  }
  return h('section', {'aria-labelledby': 'h-progress'}, h('h2', {id: 'h-progress'}, 'Progress'), parts);
}

function logLine(l) {
  return h('div.line', {dataset: {level: l.level, seq: String(l.seq)}},
    h('span.ts', null, timeEl(l.ts, true)), ' ',
    h('span.lvl', null, l.level.toUpperCase()), ' ',
    l.phase ? h('span.ph', null, `[${l.phase}] `) : null,
    h('span.msg', null, l.message),
    l.fields ? h('span.fields', null, ' ' + JSON.stringify(l.fields)) : null);
}

export async function render(main, query, ctx) {
  const id = ctx.arg;
  let run = await getJSON(`/api/runs/${encodeURIComponent(id)}`, {log_limit: 200});
  let lastSeq = 0;

  const summary = h('div', {id: 'run-summary'});
  const logBox = h('div.log', {id: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Log lines',
    tabindex: '0'});
  const autoScroll = h('input', {type: 'checkbox', id: 'autoscroll'});
  const levelSel = labelledSelect('log-level', 'Level', LEVELS, '', (e) => {
    logBox.dataset.filter = e.target.value;
    if (autoScroll.checked) logBox.scrollTop = logBox.scrollHeight;
  });
  const logStatus = h('p.small.muted', {id: 'log-status'});

  main.append(
    h('p.crumbs', null, h('a', {href: '#/runs'}, '← All runs')),
    summary,
    h('section', {'aria-labelledby': 'h-logs'},
      h('h2', {id: 'h-logs'}, 'Log'),
      h('div.log-tools', null, levelSel,
        h('div.field.check', null, autoScroll, h('label', {for: 'autoscroll'}, 'Auto-scroll to newest'))),
      logBox, logStatus));

  function addLogs(lines) {
    const atEnd = autoScroll.checked;
    for (const l of lines) {
      if (l.seq <= lastSeq) continue;
      logBox.append(logLine(l));
      lastSeq = l.seq;
    }
    // Keep the page light on long runs: the newest MAX_LINES stay (the API has them all).
    while (logBox.childElementCount > MAX_LINES) logBox.firstElementChild.remove();
    if (!logBox.firstChild) logBox.append(h('div.line.muted.empty', null, 'No log lines yet.'));
    else if (logBox.querySelector('.empty') && lines.length) logBox.querySelector('.empty').remove();
    if (atEnd) logBox.scrollTop = logBox.scrollHeight;
    const n = logBox.querySelectorAll('.line[data-seq]').length;
    logStatus.textContent = `${n} line${n === 1 ? '' : 's'}` + (run.dropped_logs ? `; ${run.dropped_logs} dropped by the producer` : '');
  }

  function drawSummary() {
    const r = run;
    clear(summary);
    const err = r.error_message || r.error_details || r.status_reason;
    append(summary, [
      h('h1', null, r.job, ' ', statusBadge(r.status, r.stale), r.paused ? h('span.badge.status-paused', null, 'paused') : null),
      h('p.muted.small', null, `${r.kind} run ${r.run_id}`),
      err ? h('section.error-box', {'aria-labelledby': 'h-error', role: 'alert'},
        h('h2', {id: 'h-error'}, 'Error'),
        r.error_message ? h('p', {id: 'error-message'}, r.error_message) : null,
        r.status_reason ? h('p.small', null, r.status_reason) : null,
        r.error_details ? [h('h3', null, 'Details'), json(r.error_details)] : null) : null,
      h('div.cols', null,
        h('section', {'aria-labelledby': 'h-timing'}, h('h2', {id: 'h-timing'}, 'Timing'), dl([
          ['Status', r.stale ? 'stale (no recent events)' : r.status],
          ['Phase', r.phase || '—'],
          ['Started', timeEl(r.started_at)],
          ['Finished', timeEl(r.finished_at)],
          ['Duration', h('span', {id: 'elapsed'}, duration(r.elapsed_seconds))],
          ['Last event', timeEl(r.last_event_at)],
          ['Paused', r.paused ? 'yes' : 'no'],
          ['Paused at', h('span', {id: 'paused-at'}, timeEl(r.paused_at))],
          ['Resumed at', h('span', {id: 'resumed-at'}, timeEl(r.resumed_at))],
          r.memory_percent !== null && r.memory_percent !== undefined ? ['Memory', percent(r.memory_percent)] : null,
          r.cpu_percent !== null && r.cpu_percent !== undefined ? ['CPU', percent(r.cpu_percent)] : null,
          r.producer && r.producer.host ? ['Producer', `${r.producer.host} pid ${r.producer.pid}`] : null,
        ])),
        progressSection(r)),
      h('section', {'aria-labelledby': 'h-counters'}, h('h2', {id: 'h-counters'}, 'Counters'),
        kvTable('Counters', r.counters) || h('p.muted', null, 'No counters reported.'),
        kvTable('Counts at start', r.start_counts), kvTable('Counts at end', r.end_counts),
        r.params ? [h('h3', null, 'Parameters'), json(r.params)] : null)]);
  }

  drawSummary();
  addLogs(run.logs || []);

  // While running: the summary and the log tail every 2 s; one more pass after it finishes.
  const poll = ctx.poller(2000, async () => {
    const wasRunning = run.status === 'running';
    const [r, logs] = await Promise.all([
      getJSON(`/api/runs/${encodeURIComponent(id)}`, {log_limit: 0}),
      getJSON(`/api/runs/${encodeURIComponent(id)}/logs`, {after_seq: lastSeq, limit: 1000}).catch((e) => {
        if (e.status === 404) return {logs: []};
        throw e;
      }),
    ]);
    run = r;
    drawSummary();
    addLogs(logs.logs);
    return wasRunning || run.status === 'running';
  });
  if (run.status === 'running') poll.start();
  return () => poll.stop();
}
