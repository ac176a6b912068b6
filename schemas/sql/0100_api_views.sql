-- HTTP API (consumer/http_api.c, api_runs.c, health.c, maintenance.c): rollup views a user can
-- also query directly, and the indexes that keep the API, stale closing and retention fast at
-- 100,000 runs and 10,000,000 log lines. Numbered 0100+ so the API's migrations never collide
-- with the 00NN table migrations.

-- Daily and weekly aggregates per job (UTC days; ISO weeks starting Monday), by run start.
-- Durations are seconds of finished runs (finished_at - started_at); events/urls added are
-- end_counts - start_counts of runs that reported both.
CREATE VIEW run_rollup_daily AS
SELECT job,
       date_trunc('day', started_at AT TIME ZONE 'UTC') AS period_start,
       count(*) AS runs,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'partial') AS partial,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'running') AS running,
       avg(extract(epoch FROM finished_at - started_at))::float8 AS duration_avg_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)::float8) AS duration_p50_s,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)::float8) AS duration_p90_s,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)::float8) AS duration_p99_s,
       coalesce(sum(CASE WHEN jsonb_typeof(end_counts -> 'events') = 'number'
                          AND jsonb_typeof(start_counts -> 'events') = 'number'
                         THEN (end_counts ->> 'events')::numeric - (start_counts ->> 'events')::numeric END), 0) AS events_added,
       coalesce(sum(CASE WHEN jsonb_typeof(end_counts -> 'urls') = 'number'
                          AND jsonb_typeof(start_counts -> 'urls') = 'number'
                         THEN (end_counts ->> 'urls')::numeric - (start_counts ->> 'urls')::numeric END), 0) AS urls_added
FROM runs
GROUP BY job, date_trunc('day', started_at AT TIME ZONE 'UTC');

CREATE VIEW run_rollup_weekly AS
SELECT job,
       date_trunc('week', started_at AT TIME ZONE 'UTC') AS period_start,
       count(*) AS runs,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'partial') AS partial,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'running') AS running,
       avg(extract(epoch FROM finished_at - started_at))::float8 AS duration_avg_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)::float8) AS duration_p50_s,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)::float8) AS duration_p90_s,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)::float8) AS duration_p99_s,
       coalesce(sum(CASE WHEN jsonb_typeof(end_counts -> 'events') = 'number'
                          AND jsonb_typeof(start_counts -> 'events') = 'number'
                         THEN (end_counts ->> 'events')::numeric - (start_counts ->> 'events')::numeric END), 0) AS events_added,
       coalesce(sum(CASE WHEN jsonb_typeof(end_counts -> 'urls') = 'number'
                          AND jsonb_typeof(start_counts -> 'urls') = 'number'
                         THEN (end_counts ->> 'urls')::numeric - (start_counts ->> 'urls')::numeric END), 0) AS urls_added
FROM runs
GROUP BY job, date_trunc('week', started_at AT TIME ZONE 'UTC');

COMMENT ON VIEW run_rollup_daily IS
    'Per job and UTC day (of started_at): runs, outcomes, duration avg/p50/p90/p99 (s), events/urls added.';
COMMENT ON VIEW run_rollup_weekly IS
    'Per job and ISO week (Monday, UTC, of started_at): as run_rollup_daily.';

-- GET /api/jobs/{job}/last-success and the seconds-since-last-success metric.
CREATE INDEX runs_job_last_success_idx ON runs (job, finished_at DESC) WHERE status = 'completed';
-- GET /api/runs?status=... newest first with the keyset cursor.
CREATE INDEX runs_status_started_at_idx ON runs (status, started_at DESC, run_id DESC);
-- GET /api/runs?kind=... newest first.
CREATE INDEX runs_kind_started_at_idx ON runs (kind, started_at DESC, run_id DESC);
-- Retention: finished runs by age, and the other tables by their age column.
CREATE INDEX runs_finished_at_idx ON runs (finished_at) WHERE status <> 'running';
CREATE INDEX run_results_time_stamp_idx ON run_results (time_stamp);
CREATE INDEX discovery_runs_created_at_idx ON discovery_runs (created_at);
CREATE INDEX dead_letters_received_at_idx ON dead_letters (received_at);
