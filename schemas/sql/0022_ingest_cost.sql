-- Ingest cost of the consumer's batches (issue 7: consumer throughput), measured with
-- log_min_duration_statement=0 on make bench's fleet stream (200k events, 2,000 runs, ~1,000 runs
-- touched per 5,000-event batch): the runs upsert and runtrack_derive_results were two thirds of
-- a batch's time in PostgreSQL.

-- 1. Every event moves runs.last_event_at, and runs_running_idx indexed it: no runs update could
--    be HOT, so each one inserted into all nine indexes of runs. Running runs are few (a fleet's
--    worth, not history), so the stale sweep and "running now" scan them by a column that never
--    changes instead and filter last_event_at; mid-run updates (counters, phase, last_event_at)
--    then touch no indexed column.
DROP INDEX IF EXISTS runs_running_idx;
CREATE INDEX runs_running_idx ON runs (job) WHERE status = 'running';

-- 2. HOT updates also need room on the row's page: a run row is rewritten on every batch that
--    carries one of its events, so leave a third of each page free (new pages; VACUUM FULL or
--    pg_repack applies it to old ones).
ALTER TABLE runs SET (fillfactor = 65);

-- 3. discovery_runs was rewritten for every discovery run touched by a batch even when nothing
--    changed (run_results already skipped equal rows): same IS DISTINCT FROM guard.
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
           runtrack_timedelta_text((EXTRACT(EPOCH FROM (f.fin - r.started_at)) * 1000000)::bigint)
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
           CASE WHEN r.finished_at IS NOT NULL
                 AND abs(EXTRACT(EPOCH FROM (r.finished_at - r.started_at))) < 99999999.995
                THEN round(EXTRACT(EPOCH FROM (r.finished_at - r.started_at)), 2) END,
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
