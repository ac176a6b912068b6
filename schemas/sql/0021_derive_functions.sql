-- run_results and discovery_runs are functions of the merged runs row. They are written in one
-- place, here, and called by both paths that end runs: the consumer after each batch's runs
-- upsert (runtrack_derive_results) and the maintenance thread that closes stale runs
-- (runtrack_close_stale), so a run ended either way gets identical rows.

-- A counter from a counter map as INTEGER (the seed columns' type); NULL when absent or when it
-- does not fit, rather than failing the whole batch.
CREATE FUNCTION runtrack_int4(counts jsonb, name text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN (counts->>name)::numeric BETWEEN -2147483648 AND 2147483647
                THEN (counts->>name)::integer END
$$;

-- end - start of one counter, with the same NULL rule (seed 000's new_events_in_db/new_urls_in_db).
CREATE FUNCTION runtrack_int4_diff(start_counts jsonb, end_counts jsonb, name text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN (end_counts->>name)::numeric - (start_counts->>name)::numeric
                     BETWEEN -2147483648 AND 2147483647
                THEN ((end_counts->>name)::numeric - (start_counts->>name)::numeric)::integer END
$$;

-- pandas' Timedelta text, "D days HH:MM:SS.ffffff" (negative: "-1 days +23:59:59.000000"), with
-- six fraction digits always: the elapsed_time format decided in docs/decisions.md.
CREATE FUNCTION runtrack_timedelta_text(us bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT e.days || ' days ' || CASE WHEN e.days < 0 THEN '+' ELSE '' END
           || lpad((e.rem / 3600000000)::text, 2, '0') || ':'
           || lpad((e.rem / 60000000 % 60)::text, 2, '0') || ':'
           || lpad((e.rem / 1000000 % 60)::text, 2, '0') || '.'
           || lpad((e.rem % 1000000)::text, 6, '0')
      FROM (SELECT floor(us / 86400000000.0)::bigint AS days,
                   us - floor(us / 86400000000.0)::bigint * 86400000000 AS rem) e
$$;

-- A discovery counter as seed 001 stores it: 0 until the run has ended (the column default),
-- then the final value.
CREATE FUNCTION runtrack_discovery_counter(status text, counters jsonb, name text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN status <> 'running' THEN COALESCE(runtrack_int4(counters, name), 0) ELSE 0 END
$$;

-- Writes run_results (ended runs) and discovery_runs (kind 'discovery') for the given runs from
-- their runs rows. Idempotent: rows already equal are left untouched, so replays and duplicate
-- batches write nothing new.
CREATE FUNCTION runtrack_derive_results(ids uuid[]) RETURNS void
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
        error_details = EXCLUDED.error_details, created_at = EXCLUDED.created_at;
$$;

-- Closes running runs with no event for more than after_s seconds as failed, then derives their
-- rows. finished_at is the last event's time, so durations reflect the work seen; only the decision
-- to close depends on now(), which is why stale closing is the one write a replay does not
-- reproduce. A real run.finished arriving later still wins (the consumer's merge). Returns how
-- many runs it closed.
CREATE FUNCTION runtrack_close_stale(after_s float8) RETURNS bigint
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
         WHERE status = 'running' AND last_event_at < now() - make_interval(secs => after_s)
        RETURNING run_id)
    SELECT array_agg(run_id) INTO closed FROM c;
    IF closed IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM runtrack_derive_results(closed);
    RETURN cardinality(closed);
END
$$;
