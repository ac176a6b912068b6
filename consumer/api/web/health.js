// Health page: the health report (GET /api/health) as one card per time window, coloured
// healthy/warning/critical, the alerts, and the per-job status. Refreshed every 10 s.
import {getJSON} from './api.js';
import {h, clear, tableWrap} from './dom.js';
import {timeEl, percent, num, duration} from './fmt.js';

function card(w) {
  return h('article.card.health-' + w.status, {'aria-labelledby': `w-${w.window_hours}`},
    h('h3', {id: `w-${w.window_hours}`}, `Last ${w.window_hours} h`),
    h('p.card-status', null, w.status),
    h('dl.facts', null,
      h('dt', null, 'Success rate'), h('dd', null, percent(w.success_rate)),
      h('dt', null, 'Freshness'), h('dd', null, percent(w.freshness_rate)),
      h('dt', null, 'Runs'), h('dd', null, num(w.total)),
      h('dt', null, 'Completed / partial'), h('dd', null, `${num(w.completed)} / ${num(w.partial)}`),
      h('dt', null, 'Failed / stale'), h('dd', null, `${num(w.failed)} / ${num(w.stale)}`),
      h('dt', null, 'Running'), h('dd', null, num(w.running))));
}

export async function render(main, query, ctx) {
  const box = h('div');
  main.append(h('h1', null, 'Health'), box);

  async function load() {
    const r = await getJSON('/api/health');
    clear(box);
    const alerts = r.alerts || [];
    box.append(
      h('p.overall.health-' + r.overall.status, null, 'Overall: ', h('strong', null, r.overall.status),
        ` — ${num(r.runs_24h)} runs in 24 h, newest started `, timeEl(r.last_run_at),
        '. Report time ', timeEl(r.timestamp), '.'),
      h('section', {'aria-labelledby': 'h-windows'}, h('h2', {id: 'h-windows'}, 'Windows'),
        h('div.cards', null, r.windows.map(card))),
      h('section', {'aria-labelledby': 'h-alerts'}, h('h2', {id: 'h-alerts'}, `Alerts (${alerts.length})`),
        alerts.length ? h('ul.alerts', null, alerts.map((a) =>
          h('li.alert.sev-' + a.severity, null, h('span.badge.sev-' + a.severity, null, a.severity), ' ',
            a.message, h('span.small.muted', null, ` (${a.code})`))))
          : h('p', null, 'No alerts.')),
      h('section', {'aria-labelledby': 'h-jobs'}, h('h2', {id: 'h-jobs'}, 'Jobs'),
        tableWrap('Job health', h('table', null, h('caption', null, 'Health per job'),
          h('thead', null, h('tr', null, ['Job', 'Status', 'Last run', 'Last success', 'Expected every',
            'Freshness', 'Failures 24 h'].map((t) => h('th', {scope: 'col'}, t)))),
          h('tbody', null, (r.jobs || []).map((j) => h('tr', null,
            h('th', {scope: 'row'}, h('a', {href: `#/runs?job=${encodeURIComponent(j.job)}`}, j.job)),
            h('td', null, h('span.badge.health-' + j.status, null, j.status)),
            h('td', null, timeEl(j.last_run_at)),
            h('td', null, timeEl(j.last_success_at)),
            h('td', null, j.expected_interval_seconds ? `${duration(j.expected_interval_seconds)} (${j.interval_source})` : '—'),
            h('td.num', null, percent(j.freshness_rate)),
            h('td.num', null, num(j.failures_24h)))))))));
  }

  await load();
  const poll = ctx.poller(10000, async () => { await load(); return true; });
  poll.start();
  return () => poll.stop();
}
