// JSON over fetch. Errors carry the API's {"error": {code, message}} text.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function getJSON(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== '') q.set(k, v);
  }
  const url = q.toString() ? `${path}?${q}` : path;
  let resp;
  try {
    resp = await fetch(url, {headers: {Accept: 'application/json'}, cache: 'no-store'});
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
