// JSON over fetch. Errors carry the API's {"error": {code, message}} text.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The API key this tab sends (Authorization: Bearer), kept in sessionStorage: it lives as long
// as the tab and is never written to a cookie or the URL. Empty when the server needs none.
const KEY_ITEM = 'runtrack.apiKey';

export function apiKey() {
  try { return sessionStorage.getItem(KEY_ITEM) || ''; } catch (e) { return ''; }
}

export function setApiKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_ITEM, key);
    else sessionStorage.removeItem(KEY_ITEM);
  } catch (e) { /* storage disabled: the key lasts this page only */ }
}

export async function getJSON(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== '') q.set(k, v);
  }
  const url = q.toString() ? `${path}?${q}` : path;
  let resp;
  try {
    const headers = {Accept: 'application/json'};
    const key = apiKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    resp = await fetch(url, {headers, cache: 'no-store'});
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  let body = null;
  try {
    body = await resp.json();
  } catch (e) {
    throw new ApiError(resp.status, 'bad_response', `Unexpected answer (HTTP ${resp.status}).`);
  }
  if (!resp.ok) {
    const err = body && body.error ? body.error : {};
    throw new ApiError(resp.status, err.code || 'error', err.message || `HTTP ${resp.status}`);
  }
  return body;
}
