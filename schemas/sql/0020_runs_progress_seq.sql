-- runs.progress_seq: seq of the run.progress event that set memory_percent / cpu_percent.
-- counters_seq alone is not enough: run.finished also carries counters (so it advances
-- counters_seq) but no resource readings, and the readings of the last progress event must
-- survive it whatever order the two arrive in. Added by the consumer work.
ALTER TABLE runs ADD COLUMN progress_seq bigint NOT NULL DEFAULT 0;

COMMENT ON COLUMN runs.progress_seq IS
    'seq of the run.progress event that set memory_percent and cpu_percent (0: none yet).';
COMMENT ON COLUMN runs.memory_percent IS 'data.memory_percent of the run.progress event with the highest seq.';
COMMENT ON COLUMN runs.cpu_percent IS 'data.cpu_percent of the run.progress event with the highest seq.';
