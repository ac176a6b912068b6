// The web dashboard in a real browser: Debian's chromium driven by playwright-core, against a
// real runtrack-consumer (HTTP on a free port) fed by runs that the `runtrack` CLI produces while
// the test runs — a live run that keeps emitting progress and logs, a failed run with error
// details, a paused/resumed run and a completed one. Fails on any console error, page error or
// failed request. Screenshots (desktop and 375 px) go to $RUNTRACK_BUILD_DIR/browser-screenshots;
// with RUNTRACK_UPDATE_DOCS_IMG=1 the runs page and a run detail are copied to docs/img/.
//
// Run by tests/browser/run.sh under tests/lib/with_services.sh:
//     node dashboard.test.mjs RUNTRACK_CLI RUNTRACK_CONSUMER
import {spawn, execFile} from 'node:child_process';
import http from 'node:http';
import {createRequire} from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';

const [CLI, CONSUMER] = process.argv.slice(2);
const env = process.env;
const BUILD = env.RUNTRACK_BUILD_DIR;
const SRC = env.RUNTRACK_SOURCE_DIR;
const require = createRequire(path.join(env.RUNTRACK_BROWSER_MODULES || path.join(BUILD, 'browser'), 'package.json'));
const {chromium} = require('playwright-core');
const execFileP = promisify(execFile);

const T0 = Date.now();
const failures = [];
const step = (what) => console.log(`${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s ${what}`);
function check(cond, what) {
  if (!cond) {
    failures.push(what);
    console.error('FAIL:', what);
  }
  return cond;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function cli(...args) {
  const {stdout} = await execFileP(CLI, args, {timeout: 30000, env});
  return stdout.trim();
}

// Polls fn until it returns a truthy value or the deadline passes (then returns the last value).
async function until(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  let v;
  for (;;) {
    try { v = await fn(); } catch (e) { v = undefined; }
    if (v || Date.now() > end) break;
    await sleep(150);
  }
  check(v, `${what} (within ${ms} ms)`);
  return v;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-browser-'));
const shots = path.join(BUILD, 'browser-screenshots');
fs.mkdirSync(shots, {recursive: true});
let consumer = null;
let consumer2 = null;
let consumer3 = null;
let evilServer = null;
let context = null;
let liveStop = false;
let liveLoop = null;

// Starts runtrack-consumer (its own group, HTTP on a free port); resolves {proc, port}.
function startConsumer(name, extraEnv) {
  const cenv = Object.assign({}, env, {
    RUNTRACK_GROUP: `browser-${name}-${env.RUNTRACK_TOPIC}`,
    RUNTRACK_HTTP_ADDR: '127.0.0.1',
    RUNTRACK_HTTP_PORT: '0',
    RUNTRACK_BATCH_MAX_MS: '50',
    RUNTRACK_STALE_CLOSE_AFTER_S: '0',
  }, extraEnv || {});
  const proc = spawn(CONSUMER, ['run'], {env: cenv, stdio: ['ignore', 'pipe', 'pipe']});
  proc.name = name;
  proc.output = '';
  const logFile = fs.createWriteStream(path.join(shots, `consumer-${name}.log`));
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('consumer did not report its HTTP port')), 20000);
    const onData = (d) => {
      logFile.write(d);
      proc.output += d.toString();
      buf += d.toString();
      const m = buf.match(/HTTP API listening[^\n]*port=(\d+)/);
      if (m) { clearTimeout(timer); resolve({proc, port: Number(m[1])}); }
      if (/HTTP API not started/.test(buf)) { clearTimeout(timer); reject(new Error(buf)); }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`consumer exited ${code}: ${buf.slice(-2000)}`)); });
  });
}

// The runs the pages show. Every CLI event names its job and kind (the envelope carries them).
async function produceRuns() {
  const c = (job, kind, cmd, ...rest) => cli(cmd, '--job', job, '--kind', kind, ...rest);
  const runs = {};
  // The four runs are reported concurrently (each one's events in order) to keep the test short.
  const completed = async () => {
    // Completed, with start/end counts, sites progress and a few log lines.
    const done = runs.completed = await c('catalog.py', 'scrape', 'start', '--count', 'events=1000', '--count', 'urls=400', '--planned', 'sites_total=12');
    await c('catalog.py', 'scrape', 'phase', '--run', done, 'scraping');
    await c('catalog.py', 'scrape', 'progress', '--run', done, 'sites_total=12', 'sites_completed=12', 'found=120');
    await c('catalog.py', 'scrape', 'log', '--run', done, '--level', 'success', 'all 12 sites scraped');
    await c('catalog.py', 'scrape', 'finish', '--run', done, '--status', 'completed', '--count', 'events=1080', '--count', 'urls=430', 'found=120', 'new=80');
  };
  const failed = async () => {
    // Failed, with error details.
    await sleep(100); // distinct start times, so the newest-first order is fixed
    const bad = runs.failed = await c('sam_discovery.py', 'discovery', 'start', 'naics=541511');
    await c('sam_discovery.py', 'discovery', 'phase', '--run', bad, 'matching');
    await c('sam_discovery.py', 'discovery', 'log', '--run', bad, '--level', 'error', 'HTTP 503 on page 7');
    await c('sam_discovery.py', 'discovery', 'finish', '--run', bad, '--status', 'failed', '--error', 'HTTP 503 from api.sam.gov',
      '--error-details-json', '{"status": 503, "url": "https://api.sam.gov/opportunities", "attempts": 3}', 'api_calls=9');
  };
  const paused = async () => {
    // Paused and resumed, batch progress, completed.
    await sleep(200);
    const pz = runs.paused = await c('batch_match.py', 'pipeline', 'start', '--planned', 'batches_total=3');
    await c('batch_match.py', 'pipeline', 'progress', '--run', pz, 'batches_total=3', 'batch_current=2');
    await c('batch_match.py', 'pipeline', 'pause', '--run', pz, '--reason', 'rate limit');
    await sleep(300);
    await c('batch_match.py', 'pipeline', 'resume', '--run', pz);
    await c('batch_match.py', 'pipeline', 'log', '--run', pz, '--level', 'warning', 'resumed after rate limit');
    await c('batch_match.py', 'pipeline', 'finish', '--run', pz, '--status', 'completed');
  };
  const liveRun = async () => {
    // Live: enough lines to overflow the log box, then it keeps reporting until the test ends.
    await sleep(300);
    const id = runs.live = await c('live_scraper.py', 'scrape', 'start', '--planned', 'sites_total=500');
    await c('live_scraper.py', 'scrape', 'phase', '--run', id, 'scraping');
    for (let i = 0; i < 2; i++) {
      await Promise.all([...Array(10).keys()].map((k) =>
        c('live_scraper.py', 'scrape', 'log', '--run', id, '--level', 'info', `warm-up line ${i * 10 + k + 1}`)));
    }
  };
  await Promise.all([completed(), failed(), paused(), liveRun()]);
  const live = runs.live;
  liveLoop = (async () => {
    const levels = ['info', 'success', 'warning', 'error'];
    for (let i = 1; !liveStop && i < 500; i++) {
      await c('live_scraper.py', 'scrape', 'progress', '--run', live, '--memory', '4.5', '--cpu', '20',
        'sites_total=500', `sites_completed=${i}`, `found=${i * 3}`);
      await c('live_scraper.py', 'scrape', 'log', '--run', live, '--level', levels[i % 4],
        '--fields-json', `{"site": ${i}}`, `site ${i} done`);
      await sleep(250);
    }
  })().catch((e) => { if (!liveStop) check(false, `live producer: ${e.message}`); });
  return runs;
}

async function staticChecks(base) {
  const idx = await fetch(base + '/');
  const csp = idx.headers.get('content-security-policy') || '';
  check(idx.status === 200 && /text\/html/.test(idx.headers.get('content-type')), 'GET / serves the page');
  check(/default-src 'none'/.test(csp) && /script-src 'self'/.test(csp) && !/unsafe/.test(csp), `strict CSP: ${csp}`);
  const etag = idx.headers.get('etag');
  check(etag && idx.headers.get('cache-control') === 'no-cache', 'ETag + Cache-Control on the page');
  const again = await fetch(base + '/index.html', {headers: {'If-None-Match': etag}});
  check(again.status === 304, `If-None-Match gives 304 (got ${again.status})`);
  const js = await fetch(base + '/assets/app.js');
  check(js.status === 200 && /^text\/javascript/.test(js.headers.get('content-type')), 'app.js as text/javascript');
  const css = await fetch(base + '/assets/app.css');
  check(css.status === 200 && /^text\/css/.test(css.headers.get('content-type')), 'app.css as text/css');
  check((await fetch(base + '/assets/nope.js')).status === 404, 'unknown asset is 404');
  check((await fetch(base + '/', {method: 'POST'})).status === 405, 'POST / is 405');
  const conf = await (await fetch(base + '/api/config')).json();
  check(conf.display_time_zone === null, `/api/config without a fixed zone: ${JSON.stringify(conf)}`);
}

// SIGTERM; the consumer must exit 0 with no sanitizer report (ASan builds).
async function stopConsumer(proc) {
  if (!proc) return;
  if (proc.exitCode === null) {
    proc.removeAllListeners('exit');
    proc.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => { proc.kill('SIGKILL'); r(); }, 15000);
      proc.on('exit', () => { clearTimeout(t); r(); });
    });
  }
  check(proc.exitCode === 0, `consumer ${proc.name} exits 0 on SIGTERM (got ${proc.exitCode}, signal ${proc.signalCode})`);
  const m = proc.output.match(/(ERROR: (Address|Leak)Sanitizer|runtime error)[^\n]*/);
  check(!m, `consumer ${proc.name}: ${m && m[0]}`);
}

// Text that must never reach the page: unformatted JavaScript values.
async function noJunk(page, name) {
  const text = await page.innerText('main');
  const m = text.match(/\b(null|undefined|NaN|\[object Object\])\b/);
  check(!m, `${name}: no '${m && m[0]}' in the page text`);
}

// WCAG AA: every visible text has contrast >= 4.5:1 against its background (3:1 when large:
// >= 24 px, or >= 18.66 px bold); every form control has a label.
async function a11y(page, name) {
  const bad = await page.evaluate(() => {
    const rgb = (s) => { const m = s.match(/[\d.]+/g) || []; return m.map(Number); };
    const lum = ([r, g, b]) => {
      const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const bgOf = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
      }
      return [255, 255, 255];
    };
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || seen.has(el) || !el.offsetParent && getComputedStyle(el).position !== 'fixed') continue;
      seen.add(el);
      const cs = getComputedStyle(el);
      if (cs.visibility === 'hidden' || el.closest('[hidden]')) continue;
      const fg = rgb(cs.color);
      const l1 = lum(fg), l2 = lum(bgOf(el));
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const px = parseFloat(cs.fontSize);
      const large = px >= 24 || (px >= 18.66 && Number(cs.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) out.push(`${el.tagName}.${el.className} "${n.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
    }
    for (const c of document.querySelectorAll('input, select, textarea')) {
      if (!c.labels.length && !c.getAttribute('aria-label')) out.push(`unlabelled ${c.tagName}#${c.id}`);
    }
    return out;
  });
  check(!bad.length, `${name}: contrast/labels: ${bad.slice(0, 5).join('; ')}`);
}

// A page on another origin (another port on loopback) that posts an HTML form to the
// dashboard's server as soon as it loads: what a malicious site would do with the session
// cookie the browser holds. /?to=URL&field=NAME posts field=x to URL.
function startEvilSite() {
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    const to = u.searchParams.get('to') || '';
    const esc = (t) => t.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    res.writeHead(200, {'Content-Type': 'text/html; charset=utf-8'});
    res.end(`<!doctype html><title>prize</title><form id="f" method="post" action="${esc(to)}">` +
      '<input type="hidden" name="name" value="evil"><input type="hidden" name="scope" value="admin">' +
      '</form><script>document.getElementById("f").submit()</script>');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// Keys required: log in with a key in the page, use the dashboard, refuse a cross-site form post
// for want of the CSRF token, log out (docs/api.md, Sessions).
async function loginFlow(runs) {
  const secretFile = path.join(tmp, 'secret');
  fs.writeFileSync(secretFile, `browser-test-secret-${process.pid}-${Date.now()}\n`, {mode: 0o600});
  const kenv = Object.assign({}, env, {RUNTRACK_AUTH_SECRET_FILE: secretFile});
  const {stdout} = await execFileP(CONSUMER, ['keys', 'create', '--name', 'browser-admin', '--scope', 'admin'],
    {timeout: 30000, env: kenv});
  const key = stdout.trim();
  check(/^rtk_/.test(key), `keys create printed a key: ${key.slice(0, 4)}`);
  const c3 = await startConsumer('auth', {RUNTRACK_AUTH: 'required', RUNTRACK_AUTH_SECRET_FILE: secretFile});
  consumer3 = c3.proc;
  const base = `http://127.0.0.1:${c3.port}`;
  const bearer = {Authorization: `Bearer ${key}`};
  const nkeys = async () => (await (await fetch(`${base}/api/keys`, {headers: bearer})).json()).keys.length;
  step(`consumer with keys required at ${base}`);

  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  // The 401s of "not logged in" and the refused cross-site post are expected here; nothing else.
  const expected = /status of (401|403)/;
  page.on('console', (m) => { if (m.type() === 'error' && !expected.test(m.text())) check(false, `login page console error: ${m.text()}`); });
  page.on('pageerror', (e) => check(false, `login page error: ${e.message}`));
  await page.goto(base + '/');
  await page.waitForSelector('#api-key');
  check(await page.isHidden('#logout'), 'no logout button before the login');
  await a11y(page, 'login');
  await page.screenshot({path: path.join(shots, 'login.png'), fullPage: true});
  await page.fill('#api-key', key.slice(0, -4) + 'AAAA');
  await page.click('button:has-text("Log in")');
  await until('a wrong key is refused in the form', async () => /Not logged in/.test(await page.textContent('main')));
  await page.fill('#api-key', key);
  await page.click('button:has-text("Log in")');
  await page.waitForSelector('table.runs tbody tr[data-run-id]');
  check((await page.textContent('#who')) === 'browser-admin (admin)', `user shown: ${await page.textContent('#who')}`);
  check(await page.isVisible('#logout'), 'logout button shown');
  const cookies = await context.cookies(base);
  const sc = cookies.find((c) => c.name === 'runtrack_session');
  check(sc && sc.httpOnly && sc.sameSite === 'Strict' && !sc.secure, `session cookie: ${JSON.stringify(sc && {...sc, value: '...'})}`);
  check(!(await page.evaluate(() => document.cookie)).includes('runtrack_session'), 'no script reads the session cookie');
  check(!(await page.evaluate(() => JSON.stringify(sessionStorage) + JSON.stringify(localStorage))).includes('rtk_'),
    'the key is not kept in web storage');
  step('logged in');
  // Use it: the runs list, a run detail, the audit page (admin).
  await page.goto(`${base}/#/run/${runs.failed}`);
  await page.waitForSelector('#error-message');
  check((await page.textContent('#error-message')) === 'HTTP 503 from api.sam.gov', 'run detail behind the login');
  await page.click('nav a[href="#/audit"]');
  await page.waitForSelector('table.audit tbody tr th');
  const audit1 = await page.$$eval('table.audit tbody tr', (trs) => trs.map((t) => [...t.children].map((c) => c.textContent.trim())));
  check(audit1.some((r) => r[2] === 'session.login' && r[4] === '200' && r[1].startsWith('browser-admin')),
    `audit lists the login: ${JSON.stringify(audit1.slice(0, 3))}`);
  await page.screenshot({path: path.join(shots, 'logged-in-audit.png'), fullPage: true});
  await page.setViewportSize({width: 375, height: 800});
  await sleep(200);
  const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(over <= 0, `logged in: no horizontal page scroll at 375 px (overflow ${over} px)`);
  await page.screenshot({path: path.join(shots, 'logged-in-narrow.png'), fullPage: true});
  await page.setViewportSize({width: 1280, height: 900});
  step('dashboard used while logged in');

  // A cross-site form post, cookie and all, but no CSRF token: refused, nothing changed.
  evilServer = await startEvilSite();
  const evil = `http://127.0.0.1:${evilServer.address().port}`;
  const before = await nkeys();
  const evilPage = await context.newPage();
  evilPage.on('console', () => {}); // its 403 is the point
  for (const target of ['/api/keys', '/api/session/logout']) {
    const answer = evilPage.waitForResponse((r) => r.url() === base + target);
    await evilPage.goto(`${evil}/?to=${encodeURIComponent(base + target)}`);
    const r = await answer;
    const body = await r.text();
    check(r.status() === 403 && /csrf_failed/.test(body) && /X-CSRF-Token/.test(body),
      `cross-site form POST ${target} refused for want of the CSRF token: ${r.status()} ${body}`);
  }
  await evilPage.close();
  check((await nkeys()) === before, 'the cross-site post created no key');
  const still = await page.evaluate(async () => (await fetch('/api/session')).status);
  check(still === 200, `the session survives the cross-site logout attempt: ${still}`);
  step('cross-site form posts refused');

  // Log out: the login form again, the page's next API call is 401, the old cookie is dead.
  await page.click('#logout');
  await page.waitForSelector('#api-key');
  check(/logged out/.test(await page.textContent('main')), 'the page says it logged out');
  const after = await page.evaluate(async () => {
    const r = await fetch('/api/runs');
    return [r.status, (await r.json()).error?.code];
  });
  check(after[0] === 401 && after[1] === 'unauthorized', `the page's API call after logout: ${after}`);
  const old = await fetch(`${base}/api/runs`, {headers: {Cookie: `runtrack_session=${sc && sc.value}`}});
  check(old.status === 401, `the old session cookie after logout: ${old.status}`);
  const entries = (await (await fetch(`${base}/api/audit`, {headers: bearer})).json()).entries;
  const got = (action, result) => entries.some((e) => e.action === action && e.result === result);
  check(got('session.logout', 200) && got('session.logout', 403) && got('keys.create', 403),
    `audit: logout, and the refused cross-site posts: ${JSON.stringify(entries.slice(0, 6).map((e) => [e.action, e.result]))}`);
  const leaked = JSON.stringify(entries).includes(sc && sc.value) || c3.proc.output.includes(sc && sc.value);
  check(!leaked, 'the session id is in the audit trail or the log');
  await page.close();
  step('logged out');
}

async function main() {
  const c1 = await startConsumer('main');
  consumer = c1.proc;
  const port = c1.port;
  const base = `http://127.0.0.1:${port}`;
  step(`consumer serving ${base}`);
  await staticChecks(base);
  const userData = path.join(tmp, 'profile');
  fs.mkdirSync(userData);
  // Chromium starts while the runs are being reported. launchPersistentContext passes --user-data-dir (a new empty one) itself.
  const launching = chromium.launchPersistentContext(userData, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: {width: 1280, height: 900},
    timezoneId: 'Europe/Berlin',
    locale: 'en-US',
  }).then((c) => { context = c; return c; }, (e) => { throw e; });
  launching.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
  const runs = await produceRuns();
  step('runs produced');
  const api = async (p) => (await fetch(base + p)).json();
  await until('the four runs reach the API', async () => {
    const r = await api('/api/runs?limit=10');
    const byId = Object.fromEntries(r.runs.map((x) => [x.run_id, x]));
    return byId[runs.completed]?.status === 'completed' && byId[runs.failed]?.status === 'failed' &&
      byId[runs.paused]?.status === 'completed' && byId[runs.live]?.counters?.sites_completed > 0;
  }, 30000);
  step('runs consumed');

  await launching;
  const page = context.pages()[0] || await context.newPage();
  step('chromium started');
  page.setDefaultTimeout(10000);
  page.on('console', (m) => { if (m.type() === 'error') check(false, `console error: ${m.text()}`); });
  page.on('pageerror', (e) => check(false, `page error: ${e.message}`));
  // A refresh cut short by leaving the page is aborted by the browser, which is not an error.
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText || '';
    if (!/ERR_ABORTED/.test(why)) check(false, `request failed: ${r.url()} ${why}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) check(false, `HTTP ${r.status()} for ${r.url()}`); });
  const shot = async (name) => page.screenshot({path: path.join(shots, `${name}.png`), fullPage: true});
  const narrow = async (name) => {
    await page.setViewportSize({width: 375, height: 800});
    await sleep(200);
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(over <= 0, `${name}: no horizontal page scroll at 375 px (overflow ${over} px)`);
    await shot(`${name}-narrow`);
    await page.setViewportSize({width: 1280, height: 900});
  };
  const rowIds = () => page.$$eval('table.runs tbody tr[data-run-id]', (trs) => trs.map((t) => t.dataset.runId));

  // ---- Runs page ----
  await page.goto(base + '/');
  await page.waitForSelector('table.runs tbody tr[data-run-id]');
  const tz = await page.textContent('#tz-note');
  check(/Europe\/Berlin/.test(tz), `the viewer's zone is named: ${tz}`);
  const started = await page.textContent(`tr[data-run-id="${runs.completed}"] time`);
  check(/GMT\+1|CET/.test(started), `start time shown in the viewer's zone with its name: ${started}`);
  check((await rowIds()).length === 4, 'four runs listed');
  // Live refresh: the live run's progress changes without a reload.
  const liveCell = `tr[data-run-id="${runs.live}"] td.progress-cell span`;
  const p0 = await page.textContent(liveCell);
  await until('runs page refreshes the live run', async () => (await page.textContent(liveCell)) !== p0, 10000);
  step('runs page live refresh seen');
  await noJunk(page, 'runs');
  await a11y(page, 'runs');
  step('runs page checked');
  await shot('runs');
  await narrow('runs');
  step('runs page screenshots');
  // Hidden tab: no refresh requests; visible again: refreshing resumes.
  let runsRequests = 0;
  const countRuns = (r) => { if (r.url().includes('/api/runs')) runsRequests++; };
  await page.evaluate(() => {
    Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
    document.dispatchEvent(new Event('visibilitychange'));
  });
  page.on('request', countRuns);
  await sleep(3000); // more than one 2 s refresh period
  check(runsRequests === 0, `no refresh while the tab is hidden (${runsRequests} requests)`);
  await page.evaluate(() => {
    delete document.hidden;
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await until('refresh resumes when the tab is visible again', async () => runsRequests > 0, 5000);
  page.off('request', countRuns);
  step('hidden tab checked');
  // Filters.
  await page.selectOption('#status', 'failed');
  await until('status filter: only the failed run', async () => {
    const ids = await rowIds();
    return ids.length === 1 && ids[0] === runs.failed;
  });
  check(/status=failed/.test(page.url()), 'filter kept in the address');
  await page.click('button:has-text("Clear")');
  await until('clear shows all runs again', async () => (await rowIds()).length === 4);
  await page.fill('#job', 'batch_match.py');
  await page.press('#job', 'Enter');
  await until('job filter', async () => { const ids = await rowIds(); return ids.length === 1 && ids[0] === runs.paused; });
  await page.click('button:has-text("Clear")');
  await page.fill('#kind', 'scrape');
  await page.click('button:has-text("Apply filters")');
  await until('kind filter', async () => (await rowIds()).sort().join() === [runs.completed, runs.live].sort().join());
  await page.fill('#kind', '');
  await page.fill('#phase', 'matching');
  await page.click('button:has-text("Apply filters")');
  await until('phase filter', async () => { const ids = await rowIds(); return ids.length === 1 && ids[0] === runs.failed; });
  await page.click('button:has-text("Clear")');
  await until('filters cleared', async () => (await rowIds()).length === 4);
  step('filters checked');
  // Paging with the API's cursor: two per page, "Load more" appends the next page.
  await page.goto(base + '/#/runs?limit=2');
  await until('first page of two', async () => (await rowIds()).length === 2);
  const firstPage = await rowIds();
  await page.click('button:has-text("Load more runs")');
  await until('second page appended', async () => (await rowIds()).length === 4);
  const all = await rowIds();
  check(all.slice(0, 2).join() === firstPage.join() && new Set(all).size === 4, 'pages neither skip nor repeat runs');
  check(await page.isHidden('button:has-text("Load more runs")'), 'no "Load more" after the last page');
  await page.goto(base + '/#/runs');
  await until('all runs again', async () => (await rowIds()).length === 4);
  // Keyboard: Tab moves the focus to a control, with a visible focus ring.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('Tab');
  const focus = await page.evaluate(() => {
    const el = document.activeElement;
    const cs = getComputedStyle(el);
    return {tag: el.tagName, outline: cs.outlineStyle, width: parseFloat(cs.outlineWidth)};
  });
  check(focus.tag !== 'BODY' && focus.outline !== 'none' && focus.width >= 2,
    `keyboard focus is visible: ${JSON.stringify(focus)}`);
  // Keyboard: the job link of a run is reachable with Tab and opens the detail with Enter.
  await page.focus(`tr[data-run-id="${runs.live}"] a`);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#log');
  step('runs page done');

  // ---- Run detail: the live run ----
  check(page.url().includes(`#/run/${runs.live}`), 'detail route');
  check(!(await page.isChecked('#autoscroll')), 'auto-scroll is off by default');
  const lines = () => page.$$eval('#log .line[data-seq]', (ls) => ls.length);
  const prog0 = await page.textContent('#progress-text');
  const n0 = await lines();
  await until('live progress moves without reload', async () => (await page.textContent('#progress-text')) !== prog0, 10000);
  await until('new log lines appear without reload', async () => (await lines()) > n0, 10000);
  check((await page.textContent('#eta')).startsWith('about'), `ETA while running: ${await page.textContent('#eta')}`);
  // Auto-scroll off: the view stays where the reader is.
  const gap = () => page.$eval('#log', (el) => el.scrollHeight - el.clientHeight - el.scrollTop);
  await page.$eval('#log', (el) => { el.scrollTop = 0; });
  const n1 = await lines();
  await until('more lines while auto-scroll is off', async () => (await lines()) > n1, 10000);
  check(await page.$eval('#log', (el) => el.scrollTop) === 0, 'without auto-scroll the log does not jump');
  check((await gap()) > 0, 'log overflows its box (enough lines to scroll)');
  // Toggle on with the keyboard: focus the checkbox, Space.
  await page.focus('#autoscroll');
  await page.keyboard.press('Space');
  check(await page.isChecked('#autoscroll'), 'auto-scroll toggled on');
  const n2 = await lines();
  await until('more lines with auto-scroll on', async () => (await lines()) > n2, 10000);
  check((await gap()) <= 2, `with auto-scroll the newest line is in view (gap ${await gap()})`);
  await noJunk(page, 'run detail');
  await a11y(page, 'run detail');
  await shot('run-detail');
  // Level filter.
  await page.selectOption('#log-level', 'error');
  const visible = await page.$$eval('#log .line[data-seq]', (ls) => ls.filter((l) => l.offsetParent !== null).map((l) => l.dataset.level));
  check(visible.length > 0 && visible.every((l) => l === 'error'), `level filter shows only errors: ${visible.join(',')}`);
  await page.selectOption('#log-level', '');
  await narrow('run-detail');
  step('live detail done');

  // ---- Failed run ----
  await page.goto(`${base}/#/run/${runs.failed}`);
  await page.waitForSelector('#error-message');
  check((await page.textContent('#error-message')) === 'HTTP 503 from api.sam.gov', 'failed run shows its error');
  check(/api\.sam\.gov\/opportunities/.test(await page.textContent('.error-box pre')), 'error details shown');
  await noJunk(page, 'failed run');
  await a11y(page, 'failed run');
  await shot('run-failed');
  // ---- Paused/resumed run ----
  await page.goto(`${base}/#/run/${runs.paused}`);
  await page.waitForSelector('#paused-at time');
  check(await page.$('#resumed-at time') !== null, 'paused and resumed times shown');
  check(/2 of 3/.test(await page.textContent('#run-summary')), 'batch 2 of 3 shown');
  await noJunk(page, 'paused run');
  await shot('run-paused');
  step('failed and paused runs done');

  // ---- Jobs ----
  await page.click('nav a[href="#/jobs"]');
  await page.waitForSelector('table.jobs tbody tr th a');
  const jobs = await page.$$eval('table.jobs tbody tr', (trs) => trs.map((t) => [...t.children].map((c) => c.textContent.trim())));
  check(jobs.length === 4, `four jobs: ${jobs.map((j) => j[0])}`);
  const cat = jobs.find((j) => j[0] === 'catalog.py') || [];
  check(/100 %/.test(cat[5] || '') && !/never/.test(cat[4] || ''), `catalog.py: last success and 100 %: ${cat}`);
  const sam = jobs.find((j) => j[0] === 'sam_discovery.py') || [];
  check(/never/.test(sam[4] || '') && /^0 %/.test(sam[5] || ''), `failed job: no success, 0 %: ${sam}`);
  await noJunk(page, 'jobs');
  await a11y(page, 'jobs');
  await shot('jobs');
  await narrow('jobs');
  // ---- Health ----
  await page.click('nav a[href="#/health"]');
  await page.waitForSelector('.cards .card');
  check((await page.$$('.cards .card')).length === 4, 'one card per default window (12, 24, 48, 72 h)');
  const cls = await page.$eval('.cards .card', (c) => c.className);
  check(/health-(healthy|warning|critical)/.test(cls), `card coloured by status: ${cls}`);
  check((await page.$$('.alerts li')).length > 0, 'alerts listed (the failed job never succeeded)');
  await noJunk(page, 'health');
  await a11y(page, 'health');
  await shot('health');
  await narrow('health');
  step('jobs and health done');

  // ---- Audit trail: a refused key creation (no server secret here) is listed ----
  // (from the test, not the page: the page's 4xx/5xx answers count as failures above)
  const st = (await fetch(`${base}/api/keys`, {method: 'POST',
    headers: {'Content-Type': 'application/json'}, body: '{"name":"b","scope":"read"}'})).status;
  check(st === 503, `POST /api/keys without a server secret: ${st}`);
  await page.click('nav a[href="#/audit"]');
  await page.waitForSelector('table.audit tbody tr th');
  const audit = await page.$$eval('table.audit tbody tr', (trs) => trs.map((t) => [...t.children].map((c) => c.textContent.trim())));
  check(audit.some((r) => r[2] === 'keys.create' && r[4] === '503' && r[1] === 'no key'),
    `audit row of the refused creation: ${JSON.stringify(audit)}`);
  await noJunk(page, 'audit');
  await a11y(page, 'audit');
  step('audit done');

  // A fixed display zone (display_tz) wins over the viewer's zone.
  const c2 = await startConsumer('tz', {RUNTRACK_DISPLAY_TZ: 'America/New_York'});
  consumer2 = c2.proc;
  const conf2 = await (await fetch(`http://127.0.0.1:${c2.port}/api/config`)).json();
  check(conf2.display_time_zone === 'America/New_York', `/api/config names the fixed zone: ${JSON.stringify(conf2)}`);
  await page.goto(`http://127.0.0.1:${c2.port}/#/run/${runs.completed}`);
  await page.waitForSelector('#run-summary time');
  const tz2 = await page.textContent('#tz-note');
  check(/America\/New_York/.test(tz2), `fixed zone named: ${tz2}`);
  const t2 = await page.textContent('#run-summary time');
  check(/EST|GMT-5/.test(t2), `times in the fixed zone: ${t2}`);
  step('fixed zone done');

  // A well-formed zone name the browser does not know: a notice, and the viewer's zone.
  await page.route('**/api/config', (route) => route.fulfill({
    status: 200, contentType: 'application/json', body: '{"display_time_zone": "Mars/Olympus_Mons"}'}));
  await page.goto(`${base}/#/jobs`);
  await page.waitForSelector('#banner:not([hidden])');
  check(/Mars\/Olympus_Mons/.test(await page.textContent('#banner')), 'unknown zone named in the notice');
  check(/Europe\/Berlin/.test(await page.textContent('#tz-note')), 'unknown zone falls back to the viewer\'s');
  await page.unroute('**/api/config');

  await loginFlow(runs);

  if (env.RUNTRACK_UPDATE_DOCS_IMG === '1') {
    fs.mkdirSync(path.join(SRC, 'docs/img'), {recursive: true});
    fs.copyFileSync(path.join(shots, 'runs.png'), path.join(SRC, 'docs/img/dashboard-runs.png'));
    fs.copyFileSync(path.join(shots, 'run-detail.png'), path.join(SRC, 'docs/img/dashboard-run-detail.png'));
  }
}

let rc = 0;
try {
  await main();
} catch (e) {
  check(false, `exception: ${e.stack || e}`);
} finally {
  liveStop = true;
  if (context) await context.close().catch(() => {});
  if (liveLoop) await liveLoop;
  await stopConsumer(consumer);
  await stopConsumer(consumer2);
  await stopConsumer(consumer3);
  if (evilServer) evilServer.close();
  fs.rmSync(tmp, {recursive: true, force: true});
  rc = failures.length ? 1 : 0;
  console.log(`${rc ? 'FAIL' : 'ok  '} dashboard (${failures.length} failures), screenshots in ${shots}`);
}
process.exit(rc);
