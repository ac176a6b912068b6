-- GET /api/health without an aggregate over every run (consumer/health.c): the newest
-- completed-or-partial run of each job is one probe of this partial index. Only finished runs
-- enter it, so the consumer's many updates of running runs never touch it.
CREATE INDEX runs_job_last_ok_idx ON runs (job, finished_at DESC)
    WHERE status IN ('completed', 'partial');
