-- run_results stays drop-in for the system it replaces: seed 000's RunResultsTracker inserts
-- (file_name, start_time_df, ..., time_stamp, elapsed_time) without a run id, and so do imports
-- of its old rows and scrapers not yet moved to runtrack. Such an INSERT failed on
-- run_id NOT NULL. Now a row inserted without a run_id gets a generated one (a random UUIDv4:
-- never a run id the consumer upserts on, so its ON CONFLICT (run_id) stays exact-once), and
-- every row says whether the consumer wrote it (imported = false) or something else did
-- (imported = true: no runs row had its run_id when it was inserted), so that /api/jobs counts
-- the imported ones as runs of their file_name and a user can tell them apart.
ALTER TABLE run_results ADD COLUMN imported boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN run_results.imported IS
    'true when not written by runtrack-consumer: inserted without a run_id (an old tracker''s'
    ' INSERT; run_id was then generated) or with one no runs row had. /api/jobs counts these as'
    ' runs of file_name.';

-- BEFORE INSERT: the NOT NULL check on run_id comes after it, so the generated id satisfies it.
-- A plain DEFAULT could not also mark the row: the consumer's own INSERT omits the column too.
-- The runs probe is one primary-key lookup per inserted row; the consumer inserts a
-- run_results row once per ended run.
CREATE FUNCTION runtrack_run_results_imported() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.run_id IS NULL THEN
        NEW.run_id := gen_random_uuid();
        NEW.imported := true;
    ELSE
        NEW.imported := NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = NEW.run_id);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER run_results_imported BEFORE INSERT ON run_results
    FOR EACH ROW EXECUTE FUNCTION runtrack_run_results_imported();

-- Rows already there: imported when no runs row has their id and retention did not remove one
-- (a tombstone in runs_removed means the consumer wrote it).
UPDATE run_results rr SET imported = true
 WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = rr.run_id)
   AND NOT EXISTS (SELECT 1 FROM runs_removed t WHERE t.run_id = rr.run_id);

-- elapsed_time in seconds, or NULL when the text is not a duration: an imported row may hold
-- anything, and one bad text must not make every report that averages durations fail. Accepts
-- the forms old trackers wrote: pandas "0 days 00:30:45.123456", Python str(timedelta)
-- "0:30:45.123456" / "1 day, 2:00:00" / "-1 day, 23:59:59", PostgreSQL "1 day 02:00:00".
CREATE FUNCTION runtrack_elapsed_seconds(t text) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t ~ '^\s*(-?[0-9]{1,7} days?,? +)?-?[0-9]{1,6}:[0-5]?[0-9]:[0-5]?[0-9](\.[0-9]{1,6})?\s*$'
                THEN extract(epoch FROM t::interval)::float8 END
$$;
COMMENT ON FUNCTION runtrack_elapsed_seconds(text) IS
    'run_results.elapsed_time in seconds; NULL when the text is not a duration.';
