-- Producer clocks (issue: "producer clocks checked"). An event's ts is the producer host's
-- clock: a host without NTP or a battery-backed clock stamps 1970, a container with a wrong
-- zone is hours off, a sentinel value says 9999. Retention, staleness and the reports used to
-- judge a run by those times, so a live run stamped 1970 was closed as stale and deleted at
-- every maintenance pass and a run stamped 9999 was "the last run" for ever. Now:
--   * received_at / first_received_at: the consumer's own receive time of the run's events
--     (now() of the batch transaction that carried them: the PostgreSQL server's clock, one
--     clock for every consumer of the database). Staleness, stale closing and retention of
--     runs judge a run by received_at, never by its event times. A replay sets them to the
--     replay's time, which is what retention and staleness of a rebuilt database need.
--   * clock_skew_s: 0 while every event of the run was within max_clock_skew_s of the
--     consumer's wall clock when it was folded; otherwise the max_clock_skew_s in force then.
--     The stored event times stay the producer's (started_at, finished_at, last_event_at);
--     durations of a flagged run are clamped to its receive span +- 2 x clock_skew_s and its
--     report times ("last run", "last success") are its receive times (runtrack_run_seconds,
--     runtrack_report_ts below; docs/decisions.md).
ALTER TABLE runs ADD COLUMN received_at timestamptz,
                 ADD COLUMN first_received_at timestamptz,
                 ADD COLUMN clock_skew_s integer NOT NULL DEFAULT 0;

-- Rows written before this migration: a running run counts as received now (it gets a full
-- stale_close_after_s before it can be closed), a finished one at its last event time, never
-- later than now (a row stamped 9999 then ages like any other).
UPDATE runs SET received_at = CASE WHEN status = 'running' THEN now()
                                   ELSE LEAST(last_event_at, now()) END;
UPDATE runs SET first_received_at = LEAST(started_at, received_at);
ALTER TABLE runs ALTER COLUMN received_at SET DEFAULT now(),
                 ALTER COLUMN received_at SET NOT NULL,
                 ALTER COLUMN first_received_at SET DEFAULT now(),
                 ALTER COLUMN first_received_at SET NOT NULL;
-- No index on received_at: it changes with every batch of a run, and an indexed column would
-- make every runs update non-HOT again (migration 0022). Retention scans finished runs without
-- it; stale closing scans running runs through runs_running_idx.

COMMENT ON COLUMN runs.received_at IS
    'When the consumer last stored an event of the run (PostgreSQL now() of that batch): staleness, stale closing and retention.';
COMMENT ON COLUMN runs.first_received_at IS
    'When the consumer first stored an event of the run (PostgreSQL now() of that batch).';
COMMENT ON COLUMN runs.clock_skew_s IS
    '0, or the max_clock_skew_s in force when an event ts of the run differed from the consumer''s clock by more: durations then clamped, report times = receive times.';

-- Seconds from started to fin (NULL fin: a running run, now()). For a run flagged with
-- clock_skew_s, clamped to the run's receive span (first_received to received, or to now()
-- while running) +- 2 x clock_skew_s: each end is off by at most the bound, so a run stamped
-- 1970 at start and right at the end no longer lasts 56 years. A run whose clock is off by a
-- constant (wrong zone, no clock at all) keeps its true duration.
CREATE FUNCTION runtrack_run_seconds(started timestamptz, fin timestamptz,
                                     first_received timestamptz, received timestamptz,
                                     skew_s integer) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- One expression and no FROM, so that PostgreSQL can inline it into the derive and the API
    -- statements; a SQL function with a FROM clause is executed as a call per row.
    SELECT CASE WHEN skew_s > 0
                THEN LEAST(GREATEST(EXTRACT(EPOCH FROM (COALESCE(fin, now()) - started)),
                                    EXTRACT(EPOCH FROM (CASE WHEN fin IS NULL THEN now()
                                                             ELSE received END - first_received))
                                    - 2 * skew_s),
                           EXTRACT(EPOCH FROM (CASE WHEN fin IS NULL THEN now()
                                                    ELSE received END - first_received))
                           + 2 * skew_s)
                ELSE EXTRACT(EPOCH FROM (COALESCE(fin, now()) - started)) END
$$;

-- A time of a run as the reports use it ("last run", "last success", freshness): the
-- producer's ts, or for a run flagged with clock_skew_s the consumer's receive time.
CREATE FUNCTION runtrack_report_ts(ts timestamptz, received timestamptz, skew_s integer)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN skew_s > 0 AND ts IS NOT NULL THEN received ELSE ts END
$$;

-- Stale closing (migration 0021) by received_at: a run whose events keep arriving is never
-- closed, whatever its events say the time is. finished_at keeps the producer's last ts.
CREATE OR REPLACE FUNCTION runtrack_close_stale(after_s float8) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    closed uuid[];
BEGIN
    WITH c AS (
        UPDATE runs
           SET status = 'failed', finished_at = last_event_at,
               status_reason = 'stale: no event for more than ' || after_s || ' s; closed by runtrack at '
                               || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               error_message = COALESCE(error_message, 'run closed as failed: no event since '
                               || to_char(last_event_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                               || ' (producer crashed or lost its connection?)')
         WHERE status = 'running' AND received_at < now() - make_interval(secs => after_s)
        RETURNING run_id)
    SELECT array_agg(run_id) INTO closed FROM c;
    IF closed IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM runtrack_derive_results(closed);
    RETURN cardinality(closed);
END
$$;

-- run_results.elapsed_time and discovery_runs.duration_seconds through runtrack_run_seconds
-- (otherwise migration 0022's function unchanged).
CREATE OR REPLACE FUNCTION runtrack_derive_results(ids uuid[]) RETURNS void
LANGUAGE sql VOLATILE AS $$
    INSERT INTO run_results AS rr (run_id, file_name, start_time_df, events_count_start,
        urls_count_start, events_count_end, urls_count_end, new_events_in_db, new_urls_in_db,
        time_stamp, elapsed_time)
    SELECT r.run_id, r.job,
           to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
           runtrack_int4(r.start_counts, 'events'), runtrack_int4(r.start_counts, 'urls'),
           runtrack_int4(r.end_counts, 'events'), runtrack_int4(r.end_counts, 'urls'),
           runtrack_int4_diff(r.start_counts, r.end_counts, 'events'),
           runtrack_int4_diff(r.start_counts, r.end_counts, 'urls'),
           f.fin AT TIME ZONE 'UTC',
           runtrack_timedelta_text((runtrack_run_seconds(r.started_at, f.fin, r.first_received_at,
                                                         r.received_at, r.clock_skew_s)
                                    * 1000000)::bigint)
      FROM runs r
     CROSS JOIN LATERAL (SELECT COALESCE(r.finished_at, r.last_event_at) AS fin) f
     WHERE r.run_id = ANY(ids) AND r.status <> 'running'
    ON CONFLICT (run_id) DO UPDATE SET file_name = EXCLUDED.file_name,
        start_time_df = EXCLUDED.start_time_df, events_count_start = EXCLUDED.events_count_start,
        urls_count_start = EXCLUDED.urls_count_start, events_count_end = EXCLUDED.events_count_end,
        urls_count_end = EXCLUDED.urls_count_end, new_events_in_db = EXCLUDED.new_events_in_db,
        new_urls_in_db = EXCLUDED.new_urls_in_db, time_stamp = EXCLUDED.time_stamp,
        elapsed_time = EXCLUDED.elapsed_time
     WHERE (rr.file_name, rr.start_time_df, rr.events_count_start, rr.urls_count_start,
            rr.events_count_end, rr.urls_count_end, rr.time_stamp, rr.elapsed_time)
           IS DISTINCT FROM
           (EXCLUDED.file_name, EXCLUDED.start_time_df, EXCLUDED.events_count_start,
            EXCLUDED.urls_count_start, EXCLUDED.events_count_end, EXCLUDED.urls_count_end,
            EXCLUDED.time_stamp, EXCLUDED.elapsed_time);

    INSERT INTO discovery_runs AS d (id, started_at, completed_at, duration_seconds, status,
        naics_codes, posted_from, posted_to, api_calls_made, opportunities_found,
        opportunities_new, opportunities_updated, opportunities_unchanged, evaluations_created,
        error_message, error_details, created_at)
    SELECT r.run_id, r.started_at AT TIME ZONE 'UTC', r.finished_at AT TIME ZONE 'UTC',
           CASE WHEN r.finished_at IS NOT NULL AND abs(d.s) < 99999999.995
                THEN round(d.s, 2) END,
           r.status,
           CASE WHEN jsonb_typeof(r.params->'naics_codes') = 'array'
                THEN ARRAY(SELECT c.v FROM jsonb_array_elements_text(r.params->'naics_codes')
                                  WITH ORDINALITY AS c(v, i) ORDER BY c.i) END,
           (r.params->>'posted_from')::date, (r.params->>'posted_to')::date,
           runtrack_discovery_counter(r.status, r.counters, 'api_calls'),
           runtrack_discovery_counter(r.status, r.counters, 'found'),
           runtrack_discovery_counter(r.status, r.counters, 'new'),
           runtrack_discovery_counter(r.status, r.counters, 'updated'),
           runtrack_discovery_counter(r.status, r.counters, 'unchanged'),
           runtrack_discovery_counter(r.status, r.counters, 'evaluations_created'),
           r.error_message, r.error_details, r.started_at AT TIME ZONE 'UTC'
      FROM runs r
     CROSS JOIN LATERAL (SELECT runtrack_run_seconds(r.started_at, r.finished_at,
                                r.first_received_at, r.received_at, r.clock_skew_s) AS s) d
     WHERE r.run_id = ANY(ids) AND r.kind = 'discovery'
    ON CONFLICT (id) DO UPDATE SET started_at = EXCLUDED.started_at,
        completed_at = EXCLUDED.completed_at, duration_seconds = EXCLUDED.duration_seconds,
        status = EXCLUDED.status, naics_codes = EXCLUDED.naics_codes,
        posted_from = EXCLUDED.posted_from, posted_to = EXCLUDED.posted_to,
        api_calls_made = EXCLUDED.api_calls_made, opportunities_found = EXCLUDED.opportunities_found,
        opportunities_new = EXCLUDED.opportunities_new,
        opportunities_updated = EXCLUDED.opportunities_updated,
        opportunities_unchanged = EXCLUDED.opportunities_unchanged,
        evaluations_created = EXCLUDED.evaluations_created, error_message = EXCLUDED.error_message,
        error_details = EXCLUDED.error_details, created_at = EXCLUDED.created_at
     WHERE (d.started_at, d.completed_at, d.duration_seconds, d.status, d.naics_codes,
            d.posted_from, d.posted_to, d.api_calls_made, d.opportunities_found,
            d.opportunities_new, d.opportunities_updated, d.opportunities_unchanged,
            d.evaluations_created, d.error_message, d.error_details, d.created_at)
           IS DISTINCT FROM
           (EXCLUDED.started_at, EXCLUDED.completed_at, EXCLUDED.duration_seconds,
            EXCLUDED.status, EXCLUDED.naics_codes, EXCLUDED.posted_from, EXCLUDED.posted_to,
            EXCLUDED.api_calls_made, EXCLUDED.opportunities_found, EXCLUDED.opportunities_new,
            EXCLUDED.opportunities_updated, EXCLUDED.opportunities_unchanged,
            EXCLUDED.evaluations_created, EXCLUDED.error_message, EXCLUDED.error_details,
            EXCLUDED.created_at);
$$;
