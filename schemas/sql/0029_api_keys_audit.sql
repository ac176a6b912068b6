-- Who may use the HTTP API (docs/api.md, Authentication): API keys with a scope, and the audit
-- trail of every state-changing request.
--
-- A key is shown once, when it is created, and never stored: api_keys keeps its short public
-- prefix (how a presented key is found) and HMAC-SHA256(server secret, key). Without the
-- server secret (auth_secret / auth_secret_file, never in the database) a copy of this table
-- cannot be turned back into keys, nor can keys be tried against it offline.
CREATE TABLE api_keys (
    id bigserial PRIMARY KEY,
    prefix text NOT NULL UNIQUE CHECK (prefix ~ '^[a-z0-9]{8}$'),
    hmac bytea NOT NULL CHECK (octet_length(hmac) = 32),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    scope text NOT NULL CHECK (scope IN ('read', 'control', 'admin')),
    job_glob text CHECK (length(job_glob) BETWEEN 1 AND 256),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz
);

COMMENT ON TABLE api_keys IS
    'HTTP API keys: public prefix + HMAC-SHA256(server secret, key); the key itself is never stored.';
COMMENT ON COLUMN api_keys.prefix IS 'The 8 characters after "rtk_" in the key: public, finds the row.';
COMMENT ON COLUMN api_keys.hmac IS 'HMAC-SHA256 of the whole key with the server secret (auth_secret).';
COMMENT ON COLUMN api_keys.scope IS 'read < control < admin: a key may do what its scope and the lower ones allow.';
COMMENT ON COLUMN api_keys.job_glob IS
    'NULL = every job; else a shell glob (fnmatch) the job of a job-addressed request must match.';
COMMENT ON COLUMN api_keys.last_used_at IS
    'Last successful use, updated at most every auth_touch_s seconds per key.';

-- One row per state-changing request (HTTP or the keys command), allowed or refused. Never the
-- key: key_id and key_name say who, remote_addr from where.
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    key_id bigint,
    key_name text,
    action text NOT NULL,
    target text,
    result integer NOT NULL,
    remote_addr text
);

CREATE INDEX audit_log_at ON audit_log (at);

COMMENT ON TABLE audit_log IS
    'Every state-changing request: who (key id and name, NULL when no valid key), action, target, '
    'result (HTTP status), time, remote address.';
