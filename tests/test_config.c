/* Settings that must never print a secret (rt_config_mask_dsn, rt_config_kafka_secret,
 * rt_config_log) and the syntax of http_allowed_hosts. No services needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"

#define PW "Hunter2-pw"

/* Masks dsn and checks that the password is gone and want (if not NULL) is the output. */
static void check_mask(test_state_t *ts, const char *dsn, const char *want)
{
    char m[512];
    rt_config_mask_dsn(dsn, m, sizeof m);
    CHECK(ts, strstr(m, PW) == NULL);
    CHECK(ts, strstr(m, "Hunter2") == NULL);
    if (want)
        CHECK_STR(ts, m, want);
    if (strstr(m, PW) || (want && strcmp(m, want) != 0))
        fprintf(stderr, "  dsn \"%s\" -> \"%s\"\n", dsn, m);
}

static void test_mask_dsn(test_state_t *ts)
{
    /* The forms libpq accepts, each with the password somewhere a pattern might miss. */
    check_mask(ts, "host=x password=" PW " user=u", "user=u password=**** host=x");
    check_mask(ts, "host=x\tpassword=" PW, "password=**** host=x");
    check_mask(ts, "host=x\npassword=" PW "\ndbname=d", "password=**** dbname=d host=x");
    check_mask(ts, "host=x password = '" PW " with space'", "password=**** host=x");
    check_mask(ts, "password='" PW "\\' quoted' host=x", "password=**** host=x");
    check_mask(ts, "postgresql://u:" PW "@h:5/db", "user=u password=**** dbname=db host=h port=5");
    check_mask(ts, "postgresql://u@h:5/db?pass%77ord=" PW, NULL);
    check_mask(ts, "postgres://u@h/db?%70%61%73%73%77%6f%72%64=" PW, NULL);
    check_mask(ts, "postgresql://u@h/db?password=" PW "&sslmode=disable", NULL);
    check_mask(ts, "postgresql://u@h/db?sslpassword=" PW, NULL);
    check_mask(ts, "host=x sslpassword=" PW " sslkey=/k.pem",
               "host=x sslkey=/k.pem sslpassword=****");
    /* No password: shown as parsed. */
    check_mask(ts, "postgresql://u@h:5/db", "user=u dbname=db host=h port=5");
    check_mask(ts, "host=/var/run/postgresql dbname='my db'",
               "dbname='my db' host=/var/run/postgresql");
    check_mask(ts, "", "");
    /* Unparseable: a fixed text, never the input (which may hold the password). */
    check_mask(ts, "host=x passwrd=" PW, RT_CONFIG_DSN_UNPARSEABLE);
    check_mask(ts, "host=x password='" PW, RT_CONFIG_DSN_UNPARSEABLE);
    check_mask(ts, "postgresql://u:" PW "@h:5/db?nosuch=1", RT_CONFIG_DSN_UNPARSEABLE);
    check_mask(ts, "mysql://u:" PW "@h/db", RT_CONFIG_DSN_UNPARSEABLE);
    /* A value with a control character stays on one line. */
    check_mask(ts, "host=x application_name='a\nb'", "host=x application_name='a\\x0ab'");
    /* Truncation keeps the output terminated. */
    char small[8];
    rt_config_mask_dsn("host=abcdefghijk password=" PW, small, sizeof small);
    CHECK_STR(ts, small, "passwor"); /* "password=**** host=..." cut */
}

static void test_kafka_secret(test_state_t *ts)
{
    static const char *const secret[] = {"sasl.password",
                                         "ssl.key.password",
                                         "ssl.keystore.password",
                                         "ssl.key.pem",
                                         "ssl_key",
                                         "sasl.oauthbearer.config",
                                         "sasl.oauthbearer.client.secret",
                                         "sasl.oauthbearer.extensions",
                                         "sasl.kerberos.kinit.cmd",
                                         "sasl.kerberos.keytab",
                                         "sasl.jaas.config",
                                         "SASL.PASSWORD",
                                         "Sasl.OAuthBearer.Config",
                                         "ssl.key.passphrase"};
    static const char *const plain[] = {
        "sasl.username", "security.protocol",       "sasl.mechanisms", "bootstrap.servers",
        "client.id",     "sasl.oauthbearer.method", "ssl.ca.location"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
        CHECK(ts, rt_config_kafka_secret(secret[i]));
        if (!rt_config_kafka_secret(secret[i]))
            fprintf(stderr, "  not secret: %s\n", secret[i]);
    }
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        CHECK(ts, !rt_config_kafka_secret(plain[i]));
}

/* rt_config_log writes the settings to stderr: none of the secrets may appear. */
static void test_log_masks(test_state_t *ts)
{
    rt_config_t cfg;
    char err[256];
    REQUIRE(ts, rt_config_init(&cfg) == 0);
    CHECK(ts, rt_config_set(&cfg, "pg_dsn", "postgresql://u@h/db?pass%77ord=" PW, err,
                            sizeof err) == 0);
    CHECK(ts, rt_config_set_kafka(&cfg, "sasl.oauthbearer.config", "principal=x secret=" PW) == 0);
    CHECK(ts, rt_config_set_kafka(&cfg, "sasl.username", "bob") == 0);
    char path[] = "/tmp/test_config_log.XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(ts, fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    rt_config_log(&cfg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    size_t len = 0;
    char *text = test_read_file(path, &len);
    unlink(path);
    REQUIRE(ts, text != NULL);
    CHECK(ts, strstr(text, "Hunter2") == NULL);
    CHECK(ts, strstr(text, "name=kafka.sasl.username value=\"bob\"") != NULL);
    CHECK(ts, strstr(text, "name=kafka.sasl.oauthbearer.config value=\"****\"") != NULL);
    CHECK(ts, strstr(text, "name=pg_dsn value=\"user=u password=**** dbname=db host=h\"") != NULL);
    free(text);
    rt_config_free(&cfg);
}

static void test_allowed_hosts_setting(test_state_t *ts)
{
    rt_config_t cfg;
    char err[256];
    REQUIRE(ts, rt_config_init(&cfg) == 0);
    CHECK_STR(ts, cfg.http_allowed_hosts, "");
    static const char *const good[] = {
        "", "*", "runtrack.example.com", "a.example,b.example,10.0.0.5", "[::1]", "dash-1_x"};
    static const char *const bad[] = {"a b", "a,,b", ",a",       "a,",  "host:8080", "*,a",
                                      "a,*", "[::1", "http://x", "a/b", "[zz]"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(ts, rt_config_set(&cfg, "http_allowed_hosts", good[i], err, sizeof err) == 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK(ts, rt_config_set(&cfg, "http_allowed_hosts", bad[i], err, sizeof err) == -1 &&
                      strstr(err, "http_allowed_hosts"));
    }
    char *env[] = {"RUNTRACK_HTTP_ALLOWED_HOSTS=dash.example", NULL};
    CHECK(ts, rt_config_apply_env(&cfg, env, err, sizeof err) == 0);
    CHECK_STR(ts, cfg.http_allowed_hosts, "dash.example");
    rt_config_free(&cfg);
}

TEST_MAIN(TEST(test_mask_dsn), TEST(test_kafka_secret), TEST(test_log_masks),
          TEST(test_allowed_hosts_setting))
