-- A large data set for measuring the API (tests/api/perf.py, bench/run.sh "api"; not part of
-- ctest): 100,000 runs of 200 jobs over ~89 days (one start every 77 s) and 10,000,000 log lines
-- (100 per run). Apply to a migrated database.
--
-- Loading fast: maintaining run_logs' indexes row by row (random run_id keys in a B-tree much
-- larger than shared_buffers) was most of the time, so the indexes of runs and run_logs are
-- dropped, the rows inserted, and the same indexes and constraints rebuilt from their saved
-- definitions (one sorted build each). The tables end up as a plain INSERT leaves them.
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
SET work_mem = '64MB';

BEGIN;
CREATE TEMP TABLE fixture_saved_defs ON COMMIT DROP AS
SELECT c.conrelid::regclass::text AS tbl, 'constraint' AS what, c.conname::text AS name,
       pg_get_constraintdef(c.oid) AS def
FROM pg_constraint c
WHERE c.conrelid IN ('runs'::regclass, 'run_logs'::regclass) AND c.contype IN ('p', 'u')
UNION ALL
SELECT i.indrelid::regclass::text, 'index', i.indexrelid::regclass::text,
       pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid IN ('runs'::regclass, 'run_logs'::regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);

DO $$
DECLARE d record;
BEGIN
    FOR d IN SELECT * FROM fixture_saved_defs LOOP
        IF d.what = 'constraint' THEN
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', d.tbl, d.name);
        ELSE
            EXECUTE format('DROP INDEX %s', d.name);
        END IF;
    END LOOP;
END $$;

INSERT INTO runs (run_id, job, kind, status, phase, has_started, started_at, finished_at,
                  last_event_at, last_seq, counters, start_counts, end_counts)
SELECT gen_random_uuid(),
       'job' || (i % 200) || '.py',
       CASE WHEN i % 10 = 0 THEN 'discovery' ELSE 'scrape' END,
       s.status,
       CASE WHEN i % 2 = 0 THEN 'scraping' ELSE 'matching' END,
       true,
       now() - i * interval '77 seconds',
       CASE WHEN s.status = 'running' THEN NULL
            ELSE now() - i * interval '77 seconds' + (60 + i % 600) * interval '1 second' END,
       now() - i * interval '77 seconds' + (60 + i % 600) * interval '1 second',
       101,
       jsonb_build_object('sites_total', 15, 'sites_completed', i % 16, 'found', i % 500),
       jsonb_build_object('events', 1000 + i, 'urls', 500 + i),
       CASE WHEN s.status = 'running' THEN NULL
            ELSE jsonb_build_object('events', 1000 + i + i % 50, 'urls', 500 + i + i % 20) END
FROM generate_series(1, 100000) AS i
CROSS JOIN LATERAL (SELECT CASE WHEN i % 1000 = 0 THEN 'running' WHEN i % 13 = 0 THEN 'failed'
                                WHEN i % 17 = 0 THEN 'partial' ELSE 'completed' END AS status) s;

INSERT INTO run_logs (run_id, seq, ts, level, phase, message, fields, event_id)
SELECT r.run_id, g.s, r.started_at + g.s * interval '1 second',
       (ARRAY['info', 'success', 'warning', 'error'])[1 + g.s % 4],
       CASE WHEN g.s <= 50 THEN 'scraping' ELSE 'matching' END,
       'log line ' || g.s || ' of a run', NULL, gen_random_uuid()
FROM runs r CROSS JOIN generate_series(1, 100) AS g(s);

DO $$
DECLARE d record;
BEGIN
    FOR d IN SELECT * FROM fixture_saved_defs ORDER BY what DESC LOOP
        IF d.what = 'constraint' THEN
            EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', d.tbl, d.name, d.def);
        ELSE
            EXECUTE d.def;
        END IF;
    END LOOP;
END $$;
COMMIT;

-- What autovacuum does soon after a bulk load: the visibility map lets the API's index-only
-- scans on runs skip the heap (unvacuumed, they read it for every row).
VACUUM (ANALYZE) runs;
ANALYZE;
