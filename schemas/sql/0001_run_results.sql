-- run_results: seed 000's table, column for column, so the seed's queries keep working, plus
-- run_id so that the consumer's write is an idempotent upsert (ON CONFLICT (run_id)).
-- One row per finished run, written when run.finished is applied.
CREATE TABLE run_results (
    run_result_id SERIAL PRIMARY KEY,
    file_name TEXT,
    start_time_df TEXT,
    events_count_start INTEGER,
    urls_count_start INTEGER,
    events_count_end INTEGER,
    urls_count_end INTEGER,
    new_events_in_db INTEGER,
    new_urls_in_db INTEGER,
    time_stamp TIMESTAMP,
    elapsed_time TEXT,
    run_id uuid NOT NULL UNIQUE
);

COMMENT ON TABLE run_results IS
    'One row per finished run (seed 000). Written by runtrack-consumer from run.started + run.finished; upserted on run_id.';
COMMENT ON COLUMN run_results.run_result_id IS
    'Insertion order only: differs between a live run and a replay; compare rows by run_id.';
COMMENT ON COLUMN run_results.file_name IS 'Event envelope job (e.g. fb_v2.py).';
COMMENT ON COLUMN run_results.start_time_df IS
    'run.started ts as YYYY-MM-DDTHH:MM:SS.ffffff, UTC, no zone suffix (Python naive isoformat).';
COMMENT ON COLUMN run_results.events_count_start IS 'run.started data.start_counts.events.';
COMMENT ON COLUMN run_results.urls_count_start IS 'run.started data.start_counts.urls.';
COMMENT ON COLUMN run_results.events_count_end IS 'run.finished data.end_counts.events.';
COMMENT ON COLUMN run_results.urls_count_end IS 'run.finished data.end_counts.urls.';
COMMENT ON COLUMN run_results.new_events_in_db IS 'events_count_end - events_count_start.';
COMMENT ON COLUMN run_results.new_urls_in_db IS 'urls_count_end - urls_count_start.';
COMMENT ON COLUMN run_results.time_stamp IS
    'run.finished ts in UTC (not insertion time, so a replay writes the same value).';
COMMENT ON COLUMN run_results.elapsed_time IS
    'finished ts - started ts as "D days HH:MM:SS.ffffff" (pandas form); castable with ::interval.';
COMMENT ON COLUMN run_results.run_id IS 'Event envelope run_id; the idempotence key.';
