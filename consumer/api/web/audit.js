// Audit page: the state-changing requests the API recorded, newest first (GET /api/audit,
// which needs an admin key when keys are required).
import {getJSON} from './api.js';
import {h, tableWrap} from './dom.js';
import {timeEl} from './fmt.js';

export async function render(main, query) {
  const before = query.get('before');
  let r;
  try {
    r = await getJSON('/api/audit', {limit: 100, before});
  } catch (e) {
    if (e.status !== 403) throw e;
    main.append(h('h1', null, 'Audit trail'), h('p.error', {role: 'alert'},
      'Reading the audit trail needs an admin key.'));
    return null;
  }
  const body = h('tbody');
  for (const e of r.entries) {
    body.append(h('tr', null,
      h('td', null, timeEl(e.at)),
      h('td', null, e.key_name === null ? h('span.muted', null, 'no key') : `${e.key_name} (#${e.key_id})`),
      h('th', {scope: 'row'}, e.action),
      h('td', null, e.target || ''),
      h('td.num', null, String(e.result)),
      h('td', null, e.remote_addr || '')));
  }
  if (!r.entries.length) body.append(h('tr', null, h('td', {colspan: '6'}, 'Nothing recorded yet.')));
  main.append(h('h1', null, 'Audit trail'),
    h('p.small.muted', null, 'Every state-changing request, allowed or refused: who, what, result.'),
    tableWrap('Audit table', h('table.audit', null, h('caption', null, 'Newest first'),
      h('thead', null, h('tr', null, ['Time', 'Key', 'Action', 'Target', 'Result', 'From'].map(
        (t) => h('th', {scope: 'col'}, t)))),
      body)),
    ...(r.next_before ? [h('p', null, h('a', {href: `#/audit?before=${r.next_before}`}, 'Older entries'))] : []));
  return null;
}
