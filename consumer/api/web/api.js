// JSON over fetch. Errors carry the API's {"error": {code, message}} text.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The dashboard logs in with an API key once (POST /api/session); the server answers an
// HttpOnly session cookie, which the browser sends by itself and no script can read, and the
// session's CSRF token, kept here in memory only (GET /api/session gives it again after a
// reload). Every state-changing request goes through send(), which adds the token.
let csrfToken = '';

export function setCsrfToken(token) {
  csrfToken = token || '';
}

async function request(method, path, params, body) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== '') q.set(k, v);
  }
  const url = q.toString() ? `${path}?${q}` : path;
  const headers = {Accept: 'application/json'};
  const init = {method, headers, cache: 'no-store', credentials: 'same-origin'};
  if (method !== 'GET' && method !== 'HEAD') {
    if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  let answer = null;
  try {
    answer = await resp.json();
  } catch (e) {
    throw new ApiError(resp.status, 'bad_response', `Unexpected answer (HTTP ${resp.status}).`);
  }
  if (!resp.ok) {
    const err = answer && answer.error ? answer.error : {};
    throw new ApiError(resp.status, err.code || 'error', err.message || `HTTP ${resp.status}`);
  }
  return answer;
}

export function getJSON(path, params) {
  return request('GET', path, params);
}

// The one way the dashboard changes anything (POST, DELETE ...): with the CSRF token.
export function send(method, path, body) {
  return request(method, path, null, body);
}

// Who this browser is logged in as ({auth_required, key_name, scope, csrf_token, ...}); a 401
// ApiError when keys are required and there is no valid session.
export async function whoami() {
  const me = await getJSON('/api/session');
  setCsrfToken(me.csrf_token);
  return me;
}

export async function login(key) {
  const me = await send('POST', '/api/session', {key});
  setCsrfToken(me.csrf_token);
  return me;
}

export async function logout() {
  try {
    await send('POST', '/api/session/logout');
  } finally {
    setCsrfToken('');
  }
}
