// runtrack dashboard: hash routes #/runs, #/run/<id>, #/jobs, #/health, #/audit. Each page module
// exports render(main, query, ctx) and may return a cleanup function (stops its polling).
import {getJSON, whoami, login, logout} from './api.js';
import {setZone, zoneName, zoneAbbrev} from './fmt.js';
import {h, clear} from './dom.js';
import * as runs from './runs.js';
import * as detail from './detail.js';
import * as jobs from './jobs.js';
import * as health from './health.js';
import * as audit from './audit.js';

const main = document.getElementById('main');
const banner = document.getElementById('banner');
let cleanup = null;

function showBanner(text) {
  banner.textContent = text || '';
  banner.hidden = !text;
}

// Polls fn every ms while the tab is visible; stops when the page changes. fn returns false to
// stop polling (e.g. nothing is running any more), true to keep going.
export function poller(ms, fn) {
  let timer = null;
  let stopped = false;
  let busy = false;
  const tick = async () => {
    timer = null;
    if (stopped || document.hidden) return;
    busy = true;
    let again = true;
    try {
      again = await fn();
    } catch (e) {
      again = true; // a failed refresh is retried on the next tick
    }
    busy = false;
    if (again !== false && !stopped && !document.hidden) timer = setTimeout(tick, ms);
  };
  const onVisibility = () => {
    if (!document.hidden && !timer && !busy && !stopped) tick();
    else if (document.hidden && timer) { clearTimeout(timer); timer = null; }
  };
  document.addEventListener('visibilitychange', onVisibility);
  return {
    start() { if (!timer && !busy && !stopped) timer = setTimeout(tick, ms); },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}

// Keys are required and this browser has no valid session (401): the login form. The key is
// sent once, to POST /api/session, and never kept: the session cookie stands for it.
function showLogin(message) {
  if (cleanup) { cleanup(); cleanup = null; }
  showUser(null);
  const input = h('input', {type: 'password', id: 'api-key', name: 'key', autocomplete: 'off',
    required: true, size: 60, placeholder: 'rtk_...'});
  const status = h('p', {role: 'status'}, message ||
    'This server needs an API key with scope read (runtrack-consumer keys create).');
  const button = h('button', {type: 'submit'}, 'Log in');
  const form = h('form.key-form', {onsubmit: async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    try {
      await login(input.value.trim());
      input.value = '';
      location.reload();
    } catch (e) {
      status.textContent = e.status === 429 || e.status === 401
        ? `Not logged in: ${e.message}` : `Login failed: ${e.message}`;
      status.className = 'error';
      button.disabled = false;
    }
  }},
  h('h1', null, 'Log in'), status,
  h('label', {for: 'api-key'}, 'API key '), input, ' ', button,
  h('p.muted', {}, 'The key is exchanged for a session cookie and not stored in this browser.'));
  clear(main).append(form);
  input.focus();
}

// The header's "logged in as" line and Log out button (hidden when keys are off).
function showUser(me) {
  const who = document.getElementById('who');
  const out = document.getElementById('logout');
  const shown = Boolean(me && me.via);
  who.hidden = !shown;
  out.hidden = !(me && me.via === 'session');
  who.textContent = shown ? `${me.key_name} (${me.scope})` : '';
}

async function onLogout() {
  try {
    await logout();
    showLogin('You are logged out.');
  } catch (e) {
    showBanner(`Logout failed: ${e.message}`);
  }
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/runs';
  const [path, qs] = raw.split('?');
  const parts = path.split('/').filter(Boolean);
  return {parts, query: new URLSearchParams(qs || '')};
}

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const {parts, query} = parseHash();
  let page = runs;
  let name = 'runs';
  let arg = null;
  if (parts[0] === 'run' && parts[1]) { page = detail; name = 'runs'; arg = decodeURIComponent(parts[1]); }
  else if (parts[0] === 'jobs') { page = jobs; name = 'jobs'; }
  else if (parts[0] === 'health') { page = health; name = 'health'; }
  else if (parts[0] === 'audit') { page = audit; name = 'audit'; }
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === name && !arg) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clear(main);
  const ctx = {poller, navigate: (hash) => { location.hash = hash; }, arg};
  try {
    cleanup = (await page.render(main, query, ctx)) || null;
  } catch (e) {
    if (e.status === 401) showLogin(e.message);
    else clear(main).append(h('p.error', {role: 'alert'}, `Could not load this page: ${e.message}`));
  }
}

async function boot() {
  document.getElementById('logout').addEventListener('click', onLogout);
  try {
    showUser(await whoami());
  } catch (e) {
    if (e.status === 401) {
      showLogin();
      return;
    }
    showBanner(`Could not ask who is logged in (${e.message}).`);
  }
  let tz = null;
  try {
    const conf = await getJSON('/api/config');
    tz = conf.display_time_zone;
  } catch (e) {
    if (e.status === 401) {
      showLogin(e.message);
      return;
    }
    showBanner(`Settings could not be read (${e.message}); showing times in your zone.`);
  }
  const err = setZone(tz);
  if (err) showBanner(err);
  const note = document.getElementById('tz-note');
  note.textContent = `Times: ${zoneName()} (${zoneAbbrev()})`;
  window.addEventListener('hashchange', () => {
    route();
    main.focus({preventScroll: true});
  });
  route();
}

boot();
