-- Counter maps merge per counter instead of replacing the whole map. A shell scraper or a
-- foreign client sends only the counters it knows at each call (`runtrack progress api_calls=42`,
-- then `runtrack finish found=120 new=5`); replacing the stored map with the newest one lost
-- api_calls (discovery_runs.api_calls_made = 0) and the sites_* counters the ETA needs. Now a
-- counter an event does not name keeps its value, and per counter the newest seq wins, so a late
-- re-delivered older event still cannot roll a counter back (docs/events.md, Counters).
--
-- runs.counters_seq becomes the highest seq among the counters' own seqs; counter_seqs lists the
-- counters set by an OLDER event than that, with their seq. A counter absent from counter_seqs
-- was set at counters_seq. Producers that send their whole map every time (the C library, the
-- Python shim) thus keep counter_seqs = '{}'. An empty map no longer advances counters_seq (no
-- counter may inherit an empty map's seq): a stored empty map starts again from 0. Existing
-- rows: every counter of a stored map was set by the event of counters_seq, which is exactly
-- what '{}' says; nothing else to rewrite.
ALTER TABLE runs ADD COLUMN counter_seqs jsonb NOT NULL DEFAULT '{}';
UPDATE runs SET counters_seq = 0 WHERE counters = '{}' AND counters_seq <> 0;

-- memory_percent and cpu_percent keep their last value when a progress event does not carry
-- them, each with the seq of the event that set it.
ALTER TABLE runs ADD COLUMN memory_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN cpu_seq bigint NOT NULL DEFAULT 0;
-- A stored reading came from the progress event of progress_seq (the old rule).
UPDATE runs SET memory_seq = CASE WHEN memory_percent IS NULL THEN 0 ELSE progress_seq END,
                cpu_seq = CASE WHEN cpu_percent IS NULL THEN 0 ELSE progress_seq END
 WHERE progress_seq > 0 AND (memory_percent IS NOT NULL OR cpu_percent IS NOT NULL);

COMMENT ON COLUMN runs.counters IS
    'Counters of run.progress / run.finished events merged per counter: each holds the value of'
    ' the newest (highest seq) event that named it.';
COMMENT ON COLUMN runs.counters_seq IS
    'Highest seq among the counters'' own seqs (0: none yet).';
COMMENT ON COLUMN runs.counter_seqs IS
    'Seq of each counter set by an event older than counters_seq; a counter not listed was set'
    ' at counters_seq.';
COMMENT ON COLUMN runs.progress_seq IS 'Highest seq of a run.progress event (0: none yet).';
COMMENT ON COLUMN runs.memory_seq IS 'seq of the run.progress event that set memory_percent (0: none).';
COMMENT ON COLUMN runs.cpu_seq IS 'seq of the run.progress event that set cpu_percent (0: none).';
COMMENT ON COLUMN runs.memory_percent IS
    'data.memory_percent of the highest-seq run.progress event that carried one.';
COMMENT ON COLUMN runs.cpu_percent IS
    'data.cpu_percent of the highest-seq run.progress event that carried one.';

-- The counters' names, sorted (bytewise: names are [a-z][a-z0-9_]*) and joined by commas: the
-- upsert's common case, a batch that names the same counters as the stored row, all newer, is
-- then one text comparison and takes the batch's map as it is (no jsonb is taken apart).
-- NULL on rows stored before this migration: their first merge computes it.
ALTER TABLE runs ADD COLUMN counter_keys text;

COMMENT ON COLUMN runs.counter_keys IS
    'The names of counters, sorted bytewise and joined by commas (the upsert''s quick check).';

CREATE FUNCTION runtrack_counter_keys(counters jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(string_agg(k, ',' ORDER BY k COLLATE "C"), '') FROM jsonb_object_keys(counters) k
$$;

-- The merge of two counter maps in that form (a: stored, b: the batch's), for the upsert's
-- general case: per counter the higher seq wins, on equal seqs a (what was applied first), as
-- the consumer's batch fold does (consumer/ingest/aggregate.c, ctr_newer). want_seqs: returns
-- the merged counter_seqs instead of the merged counters. a_seq and b_seq are the highest seqs
-- of their maps, so the merged map's is GREATEST(a_seq, b_seq).
CREATE FUNCTION runtrack_counters_merge(a jsonb, a_seqs jsonb, a_seq bigint, b jsonb,
                                        b_seqs jsonb, b_seq bigint, want_seqs boolean)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN want_seqs THEN
        COALESCE((SELECT jsonb_object_agg(k, s) FROM (
            SELECT k, CASE WHEN b ? k AND (NOT a ? k OR COALESCE((b_seqs ->> k)::bigint, b_seq)
                                            > COALESCE((a_seqs ->> k)::bigint, a_seq))
                           THEN COALESCE((b_seqs ->> k)::bigint, b_seq)
                           ELSE COALESCE((a_seqs ->> k)::bigint, a_seq) END AS s
              FROM jsonb_object_keys(a || b) k) m
            WHERE s <> GREATEST(a_seq, b_seq)), '{}')
    ELSE a || COALESCE((SELECT jsonb_object_agg(k, b -> k) FROM jsonb_object_keys(b) k
            WHERE NOT a ? k OR COALESCE((b_seqs ->> k)::bigint, b_seq)
                               > COALESCE((a_seqs ->> k)::bigint, a_seq)), '{}')
    END
$$;
