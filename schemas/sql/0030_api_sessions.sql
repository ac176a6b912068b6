-- Dashboard sessions (docs/api.md, Sessions): a browser exchanges an API key for a session
-- cookie (POST /api/session). The cookie holds a random session id (32 bytes from getrandom);
-- this table keeps HMAC-SHA256(server secret, session id), never the id, so a copy of it cannot
-- be turned into a working cookie. A session acts with the scope and job glob of the key it was
-- made from, and ends on logout (revoked_at), when idle too long (last_seen_at, the setting
-- session_idle_s), at expires_at (session_max_s after the login), or when its key is revoked or
-- expires (checked on every request through key_id).
CREATE TABLE api_sessions (
    id bigserial PRIMARY KEY,
    token_hmac bytea NOT NULL UNIQUE CHECK (octet_length(token_hmac) = 32),
    key_id bigint NOT NULL REFERENCES api_keys (id),
    scope text NOT NULL CHECK (scope IN ('read', 'control', 'admin')),
    job_glob text CHECK (length(job_glob) BETWEEN 1 AND 256),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    remote_addr text
);

CREATE INDEX api_sessions_expires_at ON api_sessions (expires_at);

COMMENT ON TABLE api_sessions IS
    'Dashboard sessions: HMAC-SHA256(server secret, session id); the session id itself is never stored.';
COMMENT ON COLUMN api_sessions.scope IS 'The scope of key_id at the login.';
COMMENT ON COLUMN api_sessions.job_glob IS 'The job glob of key_id at the login (NULL = every job).';
COMMENT ON COLUMN api_sessions.last_seen_at IS
    'Last request, written at most every auth_touch_s; idle past session_idle_s ends the session.';
COMMENT ON COLUMN api_sessions.revoked_at IS 'Logout.';
