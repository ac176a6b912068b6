// Small DOM helpers: every text goes through textContent, never innerHTML, so data from the
// runs (job names, log messages) cannot inject markup.

// h('tag.class', {attr: value, onclick: fn}, child, ...): children are nodes, strings or arrays;
// null/undefined/false children are skipped.
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A select with a visible label; options are [value, text] pairs.
export function labelledSelect(id, label, options, value, onchange) {
  const sel = h('select', {id, name: id, onchange});
  for (const [v, t] of options) sel.append(h('option', {value: v, selected: v === value}, t));
  return h('div.field', null, h('label', {for: id}, label), sel);
}

export function labelledInput(id, label, value, attrs) {
  return h('div.field', null, h('label', {for: id}, label),
    h('input', Object.assign({id, name: id, type: 'text', value: value || ''}, attrs || {})));
}

// A horizontally scrollable, keyboard-focusable region around a wide table.
export function tableWrap(label, table) {
  return h('div.table-wrap', {role: 'region', 'aria-label': label, tabindex: '0'}, table);
}

export function statusBadge(status, stale) {
  const s = stale ? 'stale' : (status || 'unknown');
  return h('span.badge.status-' + s, null, s);
}
