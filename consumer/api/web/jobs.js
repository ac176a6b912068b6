// Jobs page: per job the last run, the last successful run, the success rate and the average
// duration (from GET /api/jobs).
import {getJSON} from './api.js';
import {h, tableWrap} from './dom.js';
import {timeEl, duration, percent, num} from './fmt.js';

// Same rule as the health report: partial counts as success, stale against, running left out.
export function successRate(j) {
  const ok = (j.completed || 0) + (j.partial || 0);
  const all = ok + (j.failed || 0) + (j.stale || 0);
  return all ? (ok / all) * 100 : null;
}

function rateClass(rate) {
  if (rate === null) return '';
  return rate >= 85 ? 'ok' : rate >= 70 ? 'warn' : 'bad';
}

export async function render(main) {
  const r = await getJSON('/api/jobs');
  const body = h('tbody');
  for (const j of r.jobs) {
    const rate = successRate(j);
    const runLink = (x, t) => x ? h('a', {href: `#/run/${encodeURIComponent(x.run_id)}`}, timeEl(t)) : h('span.muted', null, 'never');
    body.append(h('tr', null,
      h('th', {scope: 'row'}, h('a', {href: `#/runs?job=${encodeURIComponent(j.job)}`}, j.job)),
      h('td', null, j.kind),
      h('td.num', null, num(j.runs)),
      h('td', null, runLink(j.last_run, j.last_run && j.last_run.started_at)),
      h('td', null, runLink(j.last_success, j.last_success && j.last_success.finished_at)),
      h('td.num', null, h('span.rate.' + (rateClass(rate) || 'none'), null, percent(rate)),
        h('span.small.muted', null, ` ${num((j.completed || 0) + (j.partial || 0))}/${num((j.completed || 0) + (j.partial || 0) + (j.failed || 0) + (j.stale || 0))}`)),
      h('td.num', null, duration(j.average_duration_seconds)),
      h('td.num', null, j.running ? num(j.running) : '0')));
  }
  if (!r.jobs.length) body.append(h('tr', null, h('td', {colspan: '8'}, 'No runs recorded yet.')));
  main.append(h('h1', null, 'Jobs'),
    h('p.small.muted', null, 'Success rate: completed and partial runs over finished and stale runs.'),
    tableWrap('Jobs table', h('table.jobs', null, h('caption', null, 'Jobs by name'),
      h('thead', null, h('tr', null, ['Job', 'Kind', 'Runs', 'Last run', 'Last success',
        'Success rate', 'Average duration', 'Running'].map((t) => h('th', {scope: 'col'}, t)))),
      body)));
}
