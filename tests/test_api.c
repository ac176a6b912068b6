/* Unit tests of the HTTP API's pure parts: cursor, ETA, health rule, parameter parsing, API
 * keys and the auth settings, and the Prometheus text of consumer metrics. The endpoints themselves are tested
 * over HTTP against PostgreSQL by tests/api/test_http.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/auth.h"
#include "api/api_runs.h"
#include "api/health_internal.h"
#include "api/health_parse.h"
#include "api/session.h"
#include "api/settings.h"
#include "config.h"
#include "harness.h"
#include "api/prom.h"
#include "metrics.h"

static void test_cursor_roundtrip(test_state_t *ts)
{
    const char *id = "01937a2b-1c2d-7e3f-8a9b-0c1d2e3f4a5b";
    int64_t values[] = {0, 1, 1764069348123456LL, -5, 253402300799999999LL};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char cur[RT_CURSOR_MAX], back[37];
        int64_t us = 42;
        REQUIRE(ts, rt_cursor_encode(values[i], id, cur, sizeof cur) == 0);
        CHECK(ts, strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                      strlen(cur));
        REQUIRE(ts, rt_cursor_decode(cur, &us, back) == 0);
        CHECK(ts, us == values[i]);
        CHECK_STR(ts, back, id);
    }
}

static void test_cursor_rejects_garbage(test_state_t *ts)
{
    char cur[RT_CURSOR_MAX], id[37];
    int64_t us;
    CHECK(ts, rt_cursor_decode("", &us, id) == -1);
    CHECK(ts, rt_cursor_decode("abc", &us, id) == -1);
    CHECK(ts, rt_cursor_decode("!!!!", &us, id) == -1);
    CHECK(ts, rt_cursor_decode("MTIzLm5vdC1hLXV1aWQ", &us, id) == -1); /* "123.not-a-uuid" */
    /* A valid cursor with one character changed must not decode to a different valid one
     * silently when the change breaks the UUID. */
    REQUIRE(ts, rt_cursor_encode(7, "01937a2b-1c2d-7e3f-8a9b-0c1d2e3f4a5b", cur, sizeof cur) == 0);
    cur[strlen(cur) - 3] = '*';
    CHECK(ts, rt_cursor_decode(cur, &us, id) == -1);
    CHECK(ts, rt_cursor_encode(7, "not-a-uuid", cur, sizeof cur) == -1);
    CHECK(ts, rt_cursor_encode(7, "01937a2b-1c2d-7e3f-8a9b-0c1d2e3f4a5b", cur, 10) == -1);
}

static void test_eta(test_state_t *ts)
{
    rt_eta_t e;
    /* Seed 004: 5 of 15 sites after 120 s -> 24 s per site, 240 s to go. */
    rt_eta_compute(5, 15, 1, 2, 120, 1, &e);
    CHECK_STR(ts, e.unit, "sites");
    CHECK(ts, e.done == 5 && e.total == 15);
    CHECK(ts, e.average_seconds_per_unit == 24);
    CHECK(ts, e.estimated_remaining_seconds == 240);
    /* No sites: batches, the current one still in progress. */
    rt_eta_compute(-1, -1, 3, 4, 100, 1, &e);
    CHECK_STR(ts, e.unit, "batches");
    CHECK(ts, e.done == 2 && e.total == 4);
    CHECK(ts, e.average_seconds_per_unit == 50 && e.estimated_remaining_seconds == 100);
    /* Finished run: all batch_current done, no remaining estimate. */
    rt_eta_compute(-1, -1, 4, 4, 100, 0, &e);
    CHECK(ts, e.done == 4 && e.percent == 100);
    CHECK(ts, e.average_seconds_per_unit == 25 && e.estimated_remaining_seconds < 0);
    /* Nothing done yet: no average. */
    rt_eta_compute(0, 10, -1, -1, 30, 1, &e);
    CHECK(ts, e.average_seconds_per_unit < 0 && e.estimated_remaining_seconds < 0);
    /* No unit at all. */
    rt_eta_compute(-1, -1, -1, -1, 30, 1, &e);
    CHECK(ts, e.unit == NULL);
    /* More done than planned is clamped. */
    rt_eta_compute(20, 15, -1, -1, 30, 1, &e);
    CHECK(ts, e.done == 15 && e.estimated_remaining_seconds == 0);
}

static void test_health_rule(test_state_t *ts)
{
    /* The rule with the settings' defaults, through the API's view of them. */
    rt_config_t cfg;
    rt_api_conf_t c;
    char err[256];
    REQUIRE(ts, rt_config_init(&cfg) == 0);
    REQUIRE(ts, rt_api_conf_init(&c, &cfg, err, sizeof err) == 0);
    const rt_health_conf_t *h = &c.health;
    CHECK(ts, h->nwindows == 4 && h->windows[0] == 12 && h->windows[3] == 72);
    CHECK(ts, h->interval_sample == 20 && h->nintervals == 0);
    CHECK(ts, rt_health_classify(h, 85, 70) == RT_HEALTH_HEALTHY);
    CHECK(ts, rt_health_classify(h, 84.99, 100) == RT_HEALTH_WARNING);
    CHECK(ts, rt_health_classify(h, 100, 69.99) == RT_HEALTH_WARNING);
    CHECK(ts, rt_health_classify(h, 70, 50) == RT_HEALTH_WARNING);
    CHECK(ts, rt_health_classify(h, 69.99, 100) == RT_HEALTH_CRITICAL);
    CHECK(ts, rt_health_classify(h, 100, 49.99) == RT_HEALTH_CRITICAL);
    CHECK(ts, rt_health_classify(h, -1, -1) == RT_HEALTH_HEALTHY);
    CHECK(ts, rt_health_classify(h, -1, 60) == RT_HEALTH_WARNING);
    CHECK_STR(ts, rt_health_status_name(RT_HEALTH_CRITICAL), "critical");
    CHECK(ts, rt_health_freshness(3600, 1800) == 100);
    CHECK(ts, rt_health_freshness(3600, 3600) == 100);
    CHECK(ts, rt_health_freshness(3600, 7200) == 50);
    CHECK(ts, rt_health_freshness(3600, -1) == 0);
    CHECK(ts, rt_health_freshness(-1, 100) == -1);
    rt_api_conf_free(&c);
    rt_config_free(&cfg);
}

/* health_job_intervals: checked when the settings are loaded, parsed into the health view. */
static void test_job_intervals(test_state_t *ts)
{
    rt_config_t cfg;
    rt_api_conf_t c;
    char err[512];
    REQUIRE(ts, rt_config_init(&cfg) == 0);
    CHECK(ts, rt_config_set(&cfg, "health_job_intervals", "job_a=3600,scrapers/fb=v2.py=86400",
                            err, sizeof err) == 0);
    REQUIRE(ts, rt_api_conf_init(&c, &cfg, err, sizeof err) == 0);
    REQUIRE(ts, c.health.nintervals == 2);
    CHECK_STR(ts, c.health.intervals[0].job, "job_a");
    CHECK(ts, c.health.intervals[0].seconds == 3600);
    CHECK_STR(ts, c.health.intervals[1].job, "scrapers/fb=v2.py");
    CHECK(ts, c.health.intervals[1].seconds == 86400);
    rt_api_conf_free(&c);
    static const char *const bad[] = {"job_a", "job_a=", "=60", "job_a=0", "job_a=1.5",
                                      "job_a=60,", "job_a=60,,job_b=1", "job_a=60,job_a=70",
                                      "job_a=315360001", "job_a= 60"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK(ts, rt_config_set(&cfg, "health_job_intervals", bad[i], err, sizeof err) == -1);
        CHECK(ts, strstr(err, "health_job_intervals") != NULL);
    }
    CHECK_STR(ts, cfg.health_job_intervals, "job_a=3600,scrapers/fb=v2.py=86400");
    char *env[] = {"RUNTRACK_HEALTH_JOB_INTERVALS=a=1,b", NULL};
    CHECK(ts, rt_config_apply_env(&cfg, env, err, sizeof err) == -1);
    CHECK(ts, strstr(err, "RUNTRACK_HEALTH_JOB_INTERVALS") && strstr(err, "\"b\""));
    CHECK(ts, rt_config_set(&cfg, "health_job_intervals", "", err, sizeof err) == 0);
    /* Cross-setting checks of the health view. */
    CHECK(ts, rt_config_set(&cfg, "health_windows", "12,0", err, sizeof err) == 0);
    CHECK(ts, rt_api_check_settings(&cfg, err, sizeof err) == -1 && strstr(err, "health_windows"));
    CHECK(ts, rt_config_set(&cfg, "health_windows", "24", err, sizeof err) == 0);
    CHECK(ts, rt_config_set(&cfg, "health_success_critical", "90", err, sizeof err) == 0);
    CHECK(ts, rt_api_check_settings(&cfg, err, sizeof err) == -1 && strstr(err, "critical"));
    CHECK(ts, rt_config_set(&cfg, "nonesuch", "1", err, sizeof err) == -1);
    rt_config_free(&cfg);
}

static void test_parse_windows(test_state_t *ts)
{
    unsigned w[RT_API_MAX_WINDOWS];
    CHECK(ts, rt_health_parse_windows("24,12,48,12", w, RT_API_MAX_WINDOWS) == 3);
    CHECK(ts, w[0] == 12 && w[1] == 24 && w[2] == 48);
    CHECK(ts, rt_health_parse_windows("14", w, 1) == 1 && w[0] == 14);
    CHECK(ts, rt_health_parse_windows("12,24", w, 1) == -1);
    CHECK(ts, rt_health_parse_windows("", w, 4) == -1);
    CHECK(ts, rt_health_parse_windows("12,", w, 4) == -1);
    CHECK(ts, rt_health_parse_windows("0", w, 4) == -1);
    CHECK(ts, rt_health_parse_windows("8761", w, 4) == -1);
    CHECK(ts, rt_health_parse_windows("1e3", w, 4) == -1);
    CHECK(ts, rt_health_parse_windows("-5", w, 4) == -1);
    /* digits only: no sign, no leading white space of any kind */
    CHECK(ts, rt_health_parse_windows("+12", w, 4) == -1);
    CHECK(ts, rt_health_parse_windows(" 12", w, 4) == -1);
    CHECK(ts, rt_health_parse_windows("12,\t24", w, 4) == -1);
}

static void test_parse_long(test_state_t *ts)
{
    long v = -7;
    CHECK(ts, rt_parse_long("50", 1, 500, &v) == 0 && v == 50);
    CHECK(ts, rt_parse_long("0", 1, 500, &v) == -1);
    CHECK(ts, rt_parse_long("501", 1, 500, &v) == -1);
    CHECK(ts, rt_parse_long("5x", 1, 500, &v) == -1);
    CHECK(ts, rt_parse_long("", 1, 500, &v) == -1);
    CHECK(ts, rt_parse_long(" 5", 1, 500, &v) == -1);
    CHECK(ts, rt_parse_long("+5", 1, 500, &v) == -1);
    CHECK(ts, rt_parse_long("99999999999999999999999", 1, 500, &v) == -1);
    CHECK(ts, v == 50);
}

/* Keys: form, prefix, HMAC (RFC 4231 case 2), Bearer parsing, job globs, scopes. */
static void test_keys(test_state_t *ts)
{
    char key[RT_KEY_LEN + 1], key2[RT_KEY_LEN + 1], prefix[RT_KEY_PREFIX_LEN + 1], p2[16];
    REQUIRE(ts, rt_auth_key_generate(key, prefix) == 0);
    REQUIRE(ts, rt_auth_key_generate(key2, p2) == 0);
    CHECK(ts, strlen(key) == RT_KEY_LEN && strncmp(key, "rtk_", 4) == 0);
    CHECK(ts, strcmp(key, key2) != 0);
    CHECK(ts, rt_auth_key_prefix(key, p2) == 0 && strcmp(p2, prefix) == 0);
    char bad[RT_KEY_LEN + 2];
    snprintf(bad, sizeof bad, "%s", key);
    bad[10] = 'A'; /* prefixes are lower case */
    CHECK(ts, rt_auth_key_prefix(bad, p2) == -1);
    snprintf(bad, sizeof bad, "%sx", key);
    CHECK(ts, rt_auth_key_prefix(bad, p2) == -1);
    CHECK(ts, rt_auth_key_prefix("rtk_abc", p2) == -1);
    CHECK(ts, rt_auth_key_prefix(NULL, p2) == -1);

    rt_auth_secret_t s = {.len = 4};
    memcpy(s.b, "Jefe", 4);
    unsigned char mac[RT_AUTH_HMAC_LEN];
    char hex[2 * RT_AUTH_HMAC_LEN + 1];
    REQUIRE(ts, rt_auth_hmac(&s, "what do ya want for nothing?", mac) == 0);
    for (size_t i = 0; i < sizeof mac; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    CHECK_STR(ts, hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    rt_auth_secret_t none = {0};
    CHECK(ts, rt_auth_hmac(&none, "x", mac) == -1);

    CHECK_STR(ts, rt_auth_bearer("Bearer abc"), "abc");
    CHECK_STR(ts, rt_auth_bearer("bearer   abc"), "abc");
    CHECK(ts, rt_auth_bearer("Basic abc") == NULL);
    CHECK(ts, rt_auth_bearer("Bearer ") == NULL);
    CHECK(ts, rt_auth_bearer(NULL) == NULL);

    rt_principal_t p = {.key_id = 1, .scope = RT_SCOPE_CONTROL};
    CHECK(ts, rt_auth_job_allowed(&p, "anything"));
    snprintf(p.job_glob, sizeof p.job_glob, "team_a/*");
    CHECK(ts, rt_auth_job_allowed(&p, "team_a/x.py"));
    CHECK(ts, rt_auth_job_allowed(&p, "team_a/sub/x.py"));
    CHECK(ts, !rt_auth_job_allowed(&p, "team_b/x.py"));
    CHECK(ts, !rt_auth_job_allowed(&p, NULL));

    rt_scope_t sc;
    CHECK(ts, rt_scope_parse("control", &sc) == 0 && sc == RT_SCOPE_CONTROL);
    CHECK(ts, rt_scope_parse("open", &sc) == -1 && rt_scope_parse("Admin", &sc) == -1);
    CHECK(ts, RT_SCOPE_READ < RT_SCOPE_CONTROL && RT_SCOPE_CONTROL < RT_SCOPE_ADMIN);
}

/* Safe defaults: required off loopback, off refused there without auth_insecure, a secret
 * needed whenever keys are required, the secret from a file, both sources refused. */
static void test_auth_settings(test_state_t *ts)
{
    rt_config_t cfg;
    char err[512];
    int req = -1, insecure = -1;
    REQUIRE(ts, rt_config_init(&cfg) == 0);
    CHECK(ts, rt_auth_mode(&cfg, &req, &insecure, err, sizeof err) == 0 && req == 0);
    REQUIRE(ts, rt_config_set(&cfg, "http_addr", "0.0.0.0", err, sizeof err) == 0);
    CHECK(ts, rt_auth_mode(&cfg, &req, &insecure, err, sizeof err) == 0 && req == 1);
    CHECK(ts, rt_api_auth_settings(&cfg, &req, NULL, err, sizeof err) == -1);
    CHECK(ts, strstr(err, "no server secret") && strstr(err, "auth_secret_file"));
    REQUIRE(ts, rt_config_set(&cfg, "auth", "off", err, sizeof err) == 0);
    CHECK(ts, rt_auth_mode(&cfg, &req, &insecure, err, sizeof err) == -1);
    CHECK(ts, strstr(err, "auth_insecure") != NULL);
    REQUIRE(ts, rt_config_set(&cfg, "auth_insecure", "true", err, sizeof err) == 0);
    CHECK(ts, rt_auth_mode(&cfg, &req, &insecure, err, sizeof err) == 0 && !req && insecure);
    REQUIRE(ts, rt_config_set(&cfg, "auth", "required", err, sizeof err) == 0);
    REQUIRE(ts, rt_config_set(&cfg, "http_addr", "127.0.0.1", err, sizeof err) == 0);
    CHECK(ts, rt_auth_mode(&cfg, &req, &insecure, err, sizeof err) == 0 && req == 1);
    CHECK(ts, rt_config_set(&cfg, "auth", "maybe", err, sizeof err) == -1);

    rt_auth_secret_t s;
    REQUIRE(ts, rt_config_set(&cfg, "auth_secret", "short", err, sizeof err) == 0);
    CHECK(ts, rt_auth_load_secret(&cfg, &s, err, sizeof err) == -1);
    CHECK(ts, strstr(err, "short") == NULL || strstr(err, "shorter") != NULL);
    char path[] = "/tmp/rt_test_secret_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(ts, fd >= 0);
    CHECK(ts, write(fd, "0123456789abcdefXYZ  \nsecond line\n", 34) == 34);
    close(fd);
    REQUIRE(ts, rt_config_set(&cfg, "auth_secret_file", path, err, sizeof err) == 0);
    CHECK(ts, rt_auth_load_secret(&cfg, &s, err, sizeof err) == -1); /* both set */
    REQUIRE(ts, rt_config_set(&cfg, "auth_secret", "", err, sizeof err) == 0);
    CHECK(ts, rt_auth_load_secret(&cfg, &s, err, sizeof err) == 0);
    CHECK(ts, s.len == 19 && memcmp(s.b, "0123456789abcdefXYZ", 19) == 0);
    CHECK(ts, rt_api_auth_settings(&cfg, &req, NULL, err, sizeof err) == 0 && req == 1);
    unlink(path);
    CHECK(ts, rt_auth_load_secret(&cfg, &s, err, sizeof err) == -1);
    CHECK(ts, strstr(err, "cannot read") != NULL);
    rt_config_free(&cfg);
}

static void test_metrics_text(test_state_t *ts)
{
    char buf[64];
    CHECK(ts, rt_metrics_escape_label("a\"b\\c\nd", buf, sizeof buf) == 10);
    CHECK_STR(ts, buf, "a\\\"b\\\\c\\nd");
    CHECK(ts, rt_metrics_escape_label("abcdef", buf, 4) == 6);
    CHECK_STR(ts, buf, "abc");

    rt_metrics_t *m = rt_metrics_new();
    REQUIRE(ts, m);
    rt_metrics_events(m, RT_EV_STARTED, 1);
    rt_metrics_events(m, RT_EV_STARTED, 1);
    rt_metrics_events(m, RT_EV__COUNT, 1); /* outside the vocabulary: "other" */
    rt_metrics_dead_letters(m, RT_DEAD_SCHEMA, 1);
    rt_metrics_dead_letters(m, RT_DEAD_SCHEMA, 1);
    rt_metrics_batch(m, 7, 0.02);
    rt_metrics_batch(m, 700, 3);
    rt_metrics_lag(m, "runtrack.events", 3, 12);
    rt_metrics_lag(m, "runtrack.events", 4, 1);
    rt_metrics_lag(m, "runtrack.events", 4, -1);
    rt_metrics_db_error(m);
    for (int i = 0; i < 100; i++) /* bounded: folded into "other" */
        rt_metrics_dead_letters(m, (rt_dead_reason_t)(RT_DEAD__COUNT + i), 1);
    char *text = NULL;
    REQUIRE(ts, rt_metrics_render(m, NULL, 300, &text) == 0 && text);
    CHECK(ts, strstr(text, "runtrack_events_consumed_total{type=\"run.started\"} 2\n") != NULL);
    CHECK(ts, strstr(text, "runtrack_events_consumed_total{type=\"other\"} 1\n") != NULL);
    CHECK(ts, strstr(text, "runtrack_dead_letters_total{reason=\"schema\"} 2\n") != NULL);
    CHECK(ts, strstr(text, "runtrack_dead_letters_total{reason=\"other\"}") != NULL);
    CHECK(ts, strstr(text, "runtrack_batch_size_events_bucket{le=\"10\"} 1\n") != NULL);
    CHECK(ts, strstr(text, "runtrack_batch_size_events_bucket{le=\"1000\"} 2\n") != NULL);
    CHECK(ts, strstr(text, "runtrack_batch_latency_seconds_bucket{le=\"2.5\"} 1\n") != NULL);
    CHECK(ts, strstr(text, "runtrack_batch_latency_seconds_count 2\n") != NULL);
    CHECK(
        ts,
        strstr(text,
               "runtrack_consumer_lag_messages{topic=\"runtrack.events\",partition=\"3\"} 12\n") !=
            NULL);
    CHECK(ts, strstr(text, "partition=\"4\"") == NULL);
    CHECK(ts, strstr(text, "runtrack_db_errors_total 1\n") != NULL);
    CHECK(ts, strstr(text, "runtrack_api_db_up 0\n") != NULL);
    free(text);
    rt_metrics_destroy(m);
    rt_metrics_destroy(NULL);
}

/* The server starts without a reachable database (the pool connects lazily), so its lifecycle
 * and configuration errors (auth among them) need no PostgreSQL. */
static void test_server_lifecycle(test_state_t *ts)
{
    rt_config_t cfg;
    char err[256];
    REQUIRE(ts, rt_config_init(&cfg) == 0);
    REQUIRE(ts, rt_config_set(&cfg, "http_port", "0", err, sizeof err) == 0);
    REQUIRE(ts, rt_config_set(&cfg, "pg_dsn", "postgresql://nobody@127.0.0.1:1/none", err,
                              sizeof err) == 0);
    rt_api_hooks_t hooks = {0};
    /* Keys required on loopback: refused without a server secret, started with one. */
    REQUIRE(ts, rt_config_set(&cfg, "auth", "required", err, sizeof err) == 0);
    CHECK(ts, rt_api_start(&cfg, &hooks, err, sizeof err) == NULL &&
                  strstr(err, "no server secret"));
    REQUIRE(ts, rt_config_set(&cfg, "auth_secret", "0123456789abcdef", err, sizeof err) == 0);
    rt_api_t *api = rt_api_start(&cfg, &hooks, err, sizeof err);
    REQUIRE(ts, api != NULL);
    CHECK(ts, rt_api_port(api) > 0);
    /* The same port again is refused with a reason. */
    rt_config_t cfg2;
    char port[16];
    snprintf(port, sizeof port, "%u", rt_api_port(api));
    REQUIRE(ts, rt_config_init(&cfg2) == 0);
    REQUIRE(ts, rt_config_set(&cfg2, "http_port", port, err, sizeof err) == 0);
    err[0] = '\0';
    CHECK(ts, rt_api_start(&cfg2, &hooks, err, sizeof err) == NULL && strstr(err, "cannot listen"));
    rt_config_free(&cfg2);
    rt_api_stop(api);

    rt_api_stop(NULL);

    REQUIRE(ts, rt_config_set(&cfg, "http_addr", "localhost", err, sizeof err) == 0);
    CHECK(ts, rt_api_start(&cfg, NULL, err, sizeof err) == NULL && strstr(err, "IPv4"));
    REQUIRE(ts, rt_config_set(&cfg, "http_addr", "127.0.0.1", err, sizeof err) == 0);
    REQUIRE(ts, rt_config_set(&cfg, "display_tz", "../etc", err, sizeof err) == 0);
    CHECK(ts, rt_api_start(&cfg, NULL, err, sizeof err) == NULL && strstr(err, "time zone"));
    CHECK(ts, rt_api_start(NULL, NULL, err, sizeof err) == NULL && strstr(err, "required"));
    rt_config_free(&cfg);
}

/* HTTPS settings without certificates at hand (consumer.tls makes real ones with openssl):
 * both files or neither, a missing file named, plain HTTP reported as not TLS, and a reload
 * of a plain-HTTP server is "nothing to do". */
static void test_tls_settings(test_state_t *ts)
{
    rt_config_t cfg;
    char err[256];
    REQUIRE(ts, rt_config_init(&cfg) == 0);
    REQUIRE(ts, rt_config_set(&cfg, "http_port", "0", err, sizeof err) == 0);
    CHECK(ts, rt_api_check_settings(&cfg, err, sizeof err) == 0);
    REQUIRE(ts,
            rt_config_set(&cfg, "http_tls_cert_file", "/nonexistent/c.pem", err, sizeof err) == 0);
    CHECK(ts, rt_api_check_settings(&cfg, err, sizeof err) == -1 && strstr(err, "needs both") &&
                  strstr(err, "http_tls_key_file"));
    REQUIRE(ts,
            rt_config_set(&cfg, "http_tls_key_file", "/nonexistent/k.pem", err, sizeof err) == 0);
    CHECK(ts, rt_api_check_settings(&cfg, err, sizeof err) == -1 && strstr(err, "cannot read") &&
                  strstr(err, "/nonexistent/c.pem"));
    REQUIRE(ts, rt_config_set(&cfg, "http_tls_cert_file", "", err, sizeof err) == 0);
    CHECK(ts, rt_api_check_settings(&cfg, err, sizeof err) == -1 && strstr(err, "needs both"));
    /* No HTTP API: its files are not looked at. */
    REQUIRE(ts, rt_config_set(&cfg, "http_port", "-1", err, sizeof err) == 0);
    CHECK(ts, rt_api_check_settings(&cfg, err, sizeof err) == 0);
    REQUIRE(ts, rt_config_set(&cfg, "http_port", "0", err, sizeof err) == 0);
    REQUIRE(ts, rt_config_set(&cfg, "http_tls_key_file", "", err, sizeof err) == 0);
    rt_api_t *api = rt_api_start(&cfg, NULL, err, sizeof err);
    REQUIRE(ts, api != NULL);
    CHECK(ts, rt_api_is_tls(api) == 0 && rt_api_is_tls(NULL) == 0);
    CHECK(ts, rt_api_tls_reload(api, err, sizeof err) == 1);
    rt_api_stop(api);
    rt_config_free(&cfg);
}

/* The Host rule (docs/api.md#host-header): which Host headers each kind of bind address
 * answers. */
static void test_host_rule(test_state_t *ts)
{
    static const struct {
        const char *host, *bind, *allowed;
        int want;
    } cases[] = {
        /* loopback bind */
        {"127.0.0.1", "127.0.0.1", "", 1},
        {"127.0.0.1:8080", "127.0.0.1", "", 1},
        {"127.0.0.1:", "127.0.0.1", "", 1},
        {"localhost:8080", "127.0.0.1", "", 1},
        {"LocalHost", "127.0.0.1", "", 1},
        {"[::1]:8080", "127.0.0.1", "", 1},
        {"127.0.0.2:8080", "127.0.0.2", "", 1},
        {"evil.example", "127.0.0.1", "", 0},
        {"evil.example:8080", "127.0.0.1", "", 0},
        {"localhost.evil.example", "127.0.0.1", "", 0},
        {"127.0.0.1.evil.example", "127.0.0.1", "", 0},
        {"10.0.0.5", "127.0.0.1", "", 0},
        {"dash.example", "127.0.0.1", "dash.example", 1},
        {"DASH.example:443", "127.0.0.1", "a.example,dash.example", 1},
        {"dash.example.evil", "127.0.0.1", "dash.example", 0},
        {"dash", "127.0.0.1", "dash.example", 0},
        {"anything.at.all", "127.0.0.1", "*", 1},
        /* malformed */
        {"", "127.0.0.1", "", 0},
        {"127.0.0.1:80:80", "127.0.0.1", "", 0},
        {"127.0.0.1:http", "127.0.0.1", "", 0},
        {"127.0.0.1:123456", "127.0.0.1", "", 0},
        {"[::1", "127.0.0.1", "", 0},
        {"[::1]x", "127.0.0.1", "", 0},
        {":8080", "127.0.0.1", "", 0},
        /* every address */
        {"10.0.0.5:8080", "0.0.0.0", "", 1},
        {"192.168.1.20", "0.0.0.0", "", 1},
        {"[fe80::1]:8080", "0.0.0.0", "", 1},
        {"localhost:8080", "0.0.0.0", "", 1},
        {"evil.example", "0.0.0.0", "", 0},
        {"10.0.0.5.nip.io", "0.0.0.0", "", 0},
        {"[zz]", "0.0.0.0", "", 0},
        {"runtrack.internal", "0.0.0.0", "runtrack.internal", 1},
        /* one other address */
        {"10.0.0.5:8080", "10.0.0.5", "", 1},
        {"10.0.0.6", "10.0.0.5", "", 0},
        {"localhost", "10.0.0.5", "", 0},
        {"evil.example", "10.0.0.5", "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = rt_api_host_allowed(cases[i].host, cases[i].bind, cases[i].allowed);
        CHECK(ts, got == cases[i].want);
        if (got != cases[i].want)
            fprintf(stderr, "  Host \"%s\" bound to %s, allowed \"%s\": %d\n", cases[i].host,
                    cases[i].bind, cases[i].allowed, got);
    }
    CHECK(ts, rt_api_host_allowed(NULL, "127.0.0.1", "") == 0);
    CHECK(ts, rt_api_host_allowed("127.0.0.1", "127.0.0.1", NULL) == 1);
}

/* Session ids (dashboard login) and the failed-login bucket, on a made-up clock. */
static void test_login_limit(test_state_t *ts)
{
    char a[RT_TOKEN_LEN + 1], b[RT_TOKEN_LEN + 1];
    REQUIRE(ts, rt_auth_token_generate(a) == 0 && rt_auth_token_generate(b) == 0);
    CHECK(ts, strlen(a) == RT_TOKEN_LEN && strcmp(a, b) != 0);
    CHECK(ts, rt_auth_token_valid(a) && !rt_auth_token_valid("short") && !rt_auth_token_valid(NULL));
    a[5] = '%';
    CHECK(ts, !rt_auth_token_valid(a));

    rt_login_limit_t *l = rt_login_limit_new(3);
    REQUIRE(ts, l != NULL);
    CHECK(ts, rt_login_limit_wait(l, "10.0.0.1", 100.0) == 0); /* unknown address: no wait */
    for (int i = 0; i < 3; i++) {
        CHECK(ts, rt_login_limit_wait(l, "10.0.0.1", 100.0) == 0);
        rt_login_limit_fail(l, "10.0.0.1", 100.0);
    }
    /* 3 per minute: the next token is back 20 s later. */
    CHECK(ts, rt_login_limit_wait(l, "10.0.0.1", 100.0) == 20);
    CHECK(ts, rt_login_limit_wait(l, "10.0.0.2", 100.0) == 0); /* other addresses unaffected */
    CHECK(ts, rt_login_limit_wait(l, "10.0.0.1", 110.0) == 10);
    CHECK(ts, rt_login_limit_wait(l, "10.0.0.1", 120.0) == 0);
    rt_login_limit_fail(l, "10.0.0.1", 120.0);
    CHECK(ts, rt_login_limit_wait(l, "10.0.0.1", 120.0) == 20);
    CHECK(ts, rt_login_limit_wait(l, "10.0.0.1", 1000.0) == 0); /* full again, not above */
    for (int i = 0; i < 3; i++)
        rt_login_limit_fail(l, "10.0.0.1", 1000.0);
    CHECK(ts, rt_login_limit_wait(l, "10.0.0.1", 1000.0) == 20);
    /* More addresses than slots: the longest idle ones are forgotten, never a crash. */
    char addr[32];
    for (int i = 0; i < 600; i++) {
        snprintf(addr, sizeof addr, "192.0.2.%d", i);
        rt_login_limit_fail(l, addr, 1001.0 + i);
    }
    CHECK(ts, rt_login_limit_wait(l, "192.0.2.599", 1600.0) == 0); /* one failure of three */
    rt_login_limit_free(l);
    rt_login_limit_free(NULL);
}

TEST_MAIN(TEST(test_cursor_roundtrip), TEST(test_cursor_rejects_garbage), TEST(test_eta),
          TEST(test_health_rule), TEST(test_job_intervals), TEST(test_parse_windows),
          TEST(test_parse_long), TEST(test_keys), TEST(test_auth_settings), TEST(test_metrics_text),
          TEST(test_server_lifecycle), TEST(test_tls_settings), TEST(test_host_rule),
          TEST(test_login_limit))
