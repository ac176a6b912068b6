/* Unit tests of GET /api/health's pure parts (consumer/api/health_rules.c, health_render.c):
 * success rate, median interval, job and overall statuses, the alert rules at their thresholds,
 * and the JSON text of a small report. The endpoint itself is tested over HTTP against
 * PostgreSQL by tests/api/test_http.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/health_internal.h"
#include "api/settings.h"
#include "config.h"
#include "harness.h"

/* The health settings as the settings table's defaults make them (no per-job intervals). */
static rt_health_conf_t default_conf(void)
{
    rt_config_t cfg;
    rt_api_conf_t c = {0};
    char err[256];
    rt_health_conf_t hc = {0};
    if (rt_config_init(&cfg) != 0)
        abort();
    if (rt_api_conf_init(&c, &cfg, err, sizeof err) != 0)
        abort();
    hc = c.health;
    rt_api_conf_free(&c);
    rt_config_free(&cfg);
    return hc;
}

static void test_success_rate(test_state_t *ts)
{
    rt_health_counts_t c = {.total = 20, .completed = 17, .failed = 3};
    CHECK(ts, rt_health_success_rate(&c) == 85);
    /* partial runs delivered their data; stale ones are presumed dead; live ones don't count */
    c = (rt_health_counts_t){.total = 10, .completed = 2, .partial = 2, .stale = 4, .running = 2};
    CHECK(ts, rt_health_success_rate(&c) == 50);
    c = (rt_health_counts_t){.total = 3, .running = 3};
    CHECK(ts, rt_health_success_rate(&c) == -1);

    rt_health_counts_t sum = {1, 2, 3, 4, 5, 6}, add = {10, 20, 30, 40, 50, 60};
    rt_health_counts_add(&sum, &add);
    CHECK(ts, sum.total == 11 && sum.completed == 22 && sum.partial == 33 && sum.failed == 44 &&
                  sum.running == 55 && sum.stale == 66);
}

static void test_median_gap(test_state_t *ts)
{
    int64_t none[1] = {5};
    CHECK(ts, rt_health_median_gap_s(none, 0) == -1);
    CHECK(ts, rt_health_median_gap_s(none, 1) == -1);
    int64_t two[] = {7000000, 1000000};
    CHECK(ts, rt_health_median_gap_s(two, 2) == 6);
    /* any order; gaps 10 s, 20 s, 40 s: the middle one */
    int64_t odd[] = {30000000, 0, 70000000, 10000000};
    CHECK(ts, rt_health_median_gap_s(odd, 4) == 20);
    /* gaps 10, 20, 40, 80 s: percentile_cont interpolates between 20 and 40 */
    int64_t even[] = {150000000, 70000000, 0, 10000000, 30000000};
    CHECK(ts, rt_health_median_gap_s(even, 5) == 30);
    int64_t micro[] = {0, 1500000, 3000001};
    CHECK(ts, fabs(rt_health_median_gap_s(micro, 3) - 1.5000005) < 1e-9);
}

/* A job with a recent success, an interval and one 12 h window of the given counts. */
static rt_health_job_t job(const char *name, double success_age, double median,
                           rt_health_counts_t w12)
{
    rt_health_job_t j = {
        .job = name,
        .last_run_at = "2026-01-01T00:00:00.000000Z",
        .last_success_at = success_age >= 0 ? "2026-01-01T00:00:00.000000Z" : NULL,
        .last_run_age = 60,
        .success_age = success_age,
        .median_interval = median,
    };
    j.w[0].n = w12;
    j.runs_24h = w12.total;
    j.failures_24h = w12.failed;
    return j;
}

static const rt_health_request_t one_window = {.windows = {12}, .nwindows = 1};

static void test_job_status(test_state_t *ts)
{
    rt_health_conf_t hc = default_conf();
    rt_api_job_interval_t iv[] = {{"conf.py", 100}, {"conf.py", 1000}, {"other.py", 5}};
    hc.intervals = iv;
    hc.nintervals = 3;
    rt_health_job_t jobs[] = {
        job("conf.py", 1400, 60, (rt_health_counts_t){.total = 1, .completed = 1}),
        job("h85.py", 60, 1800, (rt_health_counts_t){.total = 20, .completed = 17, .failed = 3}),
        job("h60.py", 60, 1800, (rt_health_counts_t){.total = 10, .completed = 6, .failed = 4}),
        job("nomedian.py", 60, -1, (rt_health_counts_t){.total = 1, .completed = 1}),
    };
    rt_health_data_t d = {.jobs = jobs, .njobs = 4};
    rt_health_report_t rep = {0};
    REQUIRE(ts, rt_health_evaluate(&hc, &one_window, &d, &rep) == 0);
    /* the last configured interval wins over the median: 1000 s, 1400 s old -> 71.43 % */
    CHECK(ts, jobs[0].interval == 1000);
    CHECK_STR(ts, jobs[0].interval_source, "configured");
    CHECK(ts, jobs[0].freshness > 71.42 && jobs[0].freshness < 71.43);
    CHECK(ts, jobs[0].status == RT_HEALTH_HEALTHY);
    CHECK_STR(ts, jobs[1].interval_source, "median");
    CHECK(ts, jobs[1].freshness == 100 && jobs[1].w[0].success_rate == 85);
    CHECK(ts, jobs[1].status == RT_HEALTH_HEALTHY);
    CHECK(ts, jobs[2].w[0].status == RT_HEALTH_CRITICAL && jobs[2].status == RT_HEALTH_CRITICAL);
    CHECK(ts, jobs[3].interval_source == NULL && jobs[3].freshness == -1);
    /* overall: sums, mean freshness of the jobs that have one, the worst status */
    CHECK(ts, rep.all[0].n.total == 32 && rep.all[0].n.completed == 25 && rep.all[0].n.failed == 7);
    CHECK(ts, rep.freshness > 90.47 && rep.freshness < 90.48);
    CHECK(ts, rep.all[0].status == RT_HEALTH_WARNING); /* 25/32 = 78.1 % */
    CHECK(ts, rep.status == RT_HEALTH_WARNING);
    CHECK(ts, rep.runs_24h == 32);
    REQUIRE(ts, rep.nalerts == 1);
    CHECK_STR(ts, rep.alerts[0].code, "success_rate_low");
    CHECK(ts, rep.alerts[0].severity == RT_HEALTH_WARNING && rep.alerts[0].job == NULL &&
                  rep.alerts[0].window_hours == 12);
    CHECK_STR(ts, rep.alerts[0].message, "success rate 78.1% below 85% in the last 12 h");
    rt_health_report_free(&rep);
}

static void test_alerts(test_state_t *ts)
{
    rt_health_conf_t hc = default_conf();
    rt_health_job_t jobs[] = {
        /* 6 failures in 24 h (more than 5), never a success, no interval */
        job("failing.py", -1, -1, (rt_health_counts_t){.total = 6, .failed = 6}),
        /* freshness 1000/1960 = 51 %: warning; last success over a day old */
        job("late.py", 90000, 1000, (rt_health_counts_t){0}),
        /* an interval but never a success: freshness 0 */
        job("never.py", -1, 600, (rt_health_counts_t){0}),
    };
    jobs[1].success_age = 1960;
    rt_health_data_t d = {.jobs = jobs, .njobs = 3};
    rt_health_report_t rep = {0};
    REQUIRE(ts, rt_health_evaluate(&hc, &one_window, &d, &rep) == 0);
    static const struct {
        const char *code, *job;
        rt_health_status_t severity;
        unsigned window;
        const char *message;
    } want[] = {
        {"failures_24h", "failing.py", RT_HEALTH_WARNING, 24,
         "failing.py: 6 failed runs in the last 24 h (more than 5)"},
        {"no_success", "failing.py", RT_HEALTH_CRITICAL, 0,
         "failing.py: no successful run on record"},
        {"freshness_low", "late.py", RT_HEALTH_WARNING, 0,
         "late.py: freshness 51.0% below 70% (last success 1960 s ago, expected every 1000 s)"},
        {"freshness_low", "never.py", RT_HEALTH_CRITICAL, 0,
         "never.py: freshness 0% (no successful run on record, expected every 600 s)"},
        {"no_success", "never.py", RT_HEALTH_CRITICAL, 0, "never.py: no successful run on record"},
        {"success_rate_low", NULL, RT_HEALTH_CRITICAL, 12,
         "success rate 0.0% below 85% in the last 12 h"},
        {"freshness_low", NULL, RT_HEALTH_CRITICAL, 0, "overall freshness 25.5% below 70%"},
    };
    REQUIRE(ts, rep.nalerts == sizeof want / sizeof want[0]);
    for (size_t i = 0; i < rep.nalerts; i++) {
        const rt_health_alert_t *a = &rep.alerts[i];
        CHECK_STR(ts, a->code, want[i].code);
        CHECK(ts, want[i].job ? a->job && strcmp(a->job, want[i].job) == 0 : a->job == NULL);
        CHECK(ts, a->severity == want[i].severity && a->window_hours == want[i].window);
        CHECK_STR(ts, a->message, want[i].message);
    }
    CHECK(ts, rep.status == RT_HEALTH_CRITICAL);
    rt_health_report_free(&rep);

    /* last success too old (> no_success_alert_s), and the newest run too old */
    rt_health_job_t old = job("old.py", 90000, 100000, (rt_health_counts_t){0});
    old.last_run_age = 5401;
    d = (rt_health_data_t){.jobs = &old, .njobs = 1};
    REQUIRE(ts, rt_health_evaluate(&hc, &one_window, &d, &rep) == 0);
    REQUIRE(ts, rep.nalerts == 2);
    CHECK_STR(ts, rep.alerts[0].message,
              "old.py: no successful run for 90000 s (threshold 86400 s)");
    CHECK_STR(ts, rep.alerts[1].code, "last_run_old");
    CHECK_STR(ts, rep.alerts[1].message, "last run started 5401 s ago (threshold 5400 s)");
    CHECK(ts, rep.newest_run_age == 5401 && rep.status == RT_HEALTH_HEALTHY);
    rt_health_report_free(&rep);

    /* no jobs at all: no runs on record, status unknown-healthy */
    d = (rt_health_data_t){0};
    REQUIRE(ts, rt_health_evaluate(&hc, &one_window, &d, &rep) == 0);
    REQUIRE(ts, rep.nalerts == 1);
    CHECK_STR(ts, rep.alerts[0].code, "no_runs");
    CHECK(ts, rep.newest_run_at == NULL && rep.freshness == -1 && rep.all[0].success_rate == -1);
    rt_health_report_free(&rep);
}

/* Many jobs, each with several alerts: the alert list grows past its first allocation. */
static void test_many_alerts(test_state_t *ts)
{
    rt_health_conf_t hc = default_conf();
    enum { N = 100 };
    rt_health_job_t *jobs = calloc(N, sizeof *jobs);
    REQUIRE(ts, jobs != NULL);
    for (size_t i = 0; i < N; i++)
        jobs[i] = job("j.py", -1, 60, (rt_health_counts_t){.total = 9, .failed = 9});
    rt_health_data_t d = {.jobs = jobs, .njobs = N};
    rt_health_report_t rep = {0};
    CHECK(ts, rt_health_evaluate(&hc, &one_window, &d, &rep) == 0);
    CHECK(ts, rep.nalerts == 3 * N + 2 && rep.oom == 0);
    rt_health_report_free(&rep);
    free(jobs);
}

static void test_render(test_state_t *ts)
{
    rt_health_conf_t hc = default_conf();
    rt_health_request_t q = {.windows = {12, 24}, .nwindows = 2};
    rt_health_job_t j = job("a\"b.py", 30.0004, 1800.25,
                            (rt_health_counts_t){.total = 3, .completed = 2, .failed = 1});
    j.w[1].n = j.w[0].n;
    rt_health_data_t d = {.jobs = &j, .njobs = 1};
    rt_health_report_t rep = {0};
    REQUIRE(ts, rt_health_evaluate(&hc, &q, &d, &rep) == 0);
    char *text = rt_health_render(&hc, 300, &q, &d, &rep, "2026-01-01T00:01:00.000000Z");
    REQUIRE(ts, text != NULL);
    const char *w = "\"total\":3,\"completed\":2,\"partial\":0,\"failed\":1,\"running\":0,"
                    "\"stale\":0,\"success_rate\":66.67,\"freshness_rate\":100.0,"
                    "\"status\":\"critical\"}";
    char want[4096];
    snprintf(want, sizeof want,
             "{\"timestamp\":\"2026-01-01T00:01:00.000000Z\","
             "\"generated_at\":\"2026-01-01T00:01:00.000000Z\",\"thresholds\":{"
             "\"success_healthy\":85.0,\"success_critical\":70.0,\"freshness_healthy\":70.0,"
             "\"freshness_critical\":50.0,\"failures_alert_24h\":5,"
             "\"no_success_alert_seconds\":86400.0,\"last_run_alert_seconds\":5400.0,"
             "\"stale_after_seconds\":300.0},"
             "\"overall\":{\"window_hours\":24,%s,"
             "\"windows\":[{\"window_hours\":12,%s,{\"window_hours\":24,%s],"
             "\"jobs\":[{\"job\":\"a\\\"b.py\",\"status\":\"critical\","
             "\"last_run_at\":\"2026-01-01T00:00:00.000000Z\","
             "\"last_success_at\":\"2026-01-01T00:00:00.000000Z\","
             "\"seconds_since_last_success\":30.0,\"expected_interval_seconds\":1800.25,"
             "\"interval_source\":\"median\",\"freshness_rate\":100.0,\"runs_24h\":3,"
             "\"failures_24h\":1,\"windows\":[{\"window_hours\":12,%s,{\"window_hours\":24,%s]}],"
             "\"last_run_at\":\"2026-01-01T00:00:00.000000Z\",\"runs_24h\":3,\"alerts\":["
             "{\"severity\":\"critical\",\"code\":\"success_rate_low\",\"job\":null,"
             "\"window_hours\":12,\"message\":\"success rate 66.7%% below 85%% in the last 12 h\"},"
             "{\"severity\":\"critical\",\"code\":\"success_rate_low\",\"job\":null,"
             "\"window_hours\":24,\"message\":\"success rate 66.7%% below 85%% in the last 24 h\"}"
             "]}",
             w, w, w, w, w);
    CHECK_STR(ts, text, want);
    free(text);
    rt_health_report_free(&rep);
}

TEST_MAIN(TEST(test_success_rate), TEST(test_median_gap), TEST(test_job_status), TEST(test_alerts),
          TEST(test_many_alerts), TEST(test_render))
