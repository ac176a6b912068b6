/* Handlers for runs, logs and jobs: GET /api/runs, /api/runs/{id}, /api/runs/{id}/logs,
 * /api/jobs, /api/jobs/{job}/rollup, /api/jobs/{job}/last-success (docs/api.md). Each answers
 * one request through the rt_req_* helpers of request.h; none changes the database. */
#ifndef RT_API_RUNS_H
#define RT_API_RUNS_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"

void rt_api_runs_list(rt_req_t *req);
void rt_api_run_detail(rt_req_t *req, const char *run_id);
void rt_api_run_logs(rt_req_t *req, const char *run_id);
void rt_api_jobs(rt_req_t *req);
void rt_api_job_rollup(rt_req_t *req, const char *job);
void rt_api_job_last_success(rt_req_t *req, const char *job);

/* The keyset cursor of /api/runs: an opaque base64url text of (started_at in microseconds,
 * run_id). encode writes at most size-1 characters plus NUL and returns 0, or -1 if size is
 * too small; decode returns 0 or -1 for anything that is not a cursor we made. */
#define RT_CURSOR_MAX 96
int rt_cursor_encode(int64_t started_us, const char *run_id, char *out, size_t size);
int rt_cursor_decode(const char *cursor, int64_t *started_us, char run_id[37]);

/* Progress estimate of a run as seed 004 shows it. unit is "sites" when sites_total > 0, else
 * "batches" when batches_total > 0 (batch_current is the batch in progress, so
 * batch_current - 1 are done while running and all batch_current when finished), else NULL.
 * The average and remaining time are negative when unknown (nothing done yet, or not running
 * for the remaining time). Counters < 0 mean absent. */
typedef struct rt_eta {
    const char *unit;
    int64_t done, total;
    double percent;
    double average_seconds_per_unit;
    double estimated_remaining_seconds;
} rt_eta_t;
void rt_eta_compute(int64_t sites_completed, int64_t sites_total, int64_t batch_current,
                    int64_t batches_total, double elapsed_s, int running, rt_eta_t *out);

#endif
