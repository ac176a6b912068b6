/* The HTTP API as the query commands see it (api.h), over rt_http_get. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "http_get.h"

int api_qs_add(char *buf, size_t size, const char *name, const char *value)
{
    if (!value)
        return 0;
    char *e = rt_http_escape(value);
    if (!e)
        return -1;
    size_t len = strlen(buf);
    int n = snprintf(buf + len, size - len, "%c%s=%s", strchr(buf, '?') ? '&' : '?', name, e);
    free(e);
    return n < 0 || (size_t)n >= size - len ? -1 : 0;
}

/* Reads the key from the first line of path into a->key_buf. Returns EX_OK_ or 78 after a
 * message that names the file only. */
static int read_key_file(cli_api_t *a, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        cli_err("--api-key-file \"%s\": cannot read: %s", path, strerror(errno));
        return EX_CONFIG_;
    }
    int ok = fgets(a->key_buf, sizeof a->key_buf, f) != NULL;
    fclose(f);
    size_t n = ok ? strcspn(a->key_buf, "\r\n") : 0;
    int whole = ok && a->key_buf[n] != '\0';
    while (n > 0 && (a->key_buf[n - 1] == ' ' || a->key_buf[n - 1] == '\t'))
        n--;
    a->key_buf[n] = '\0';
    if (n == 0 || (!whole && strlen(a->key_buf) == sizeof a->key_buf - 1)) {
        cli_err("--api-key-file \"%s\": %s", path,
                n == 0 ? "no key on its first line" : "first line too long for an API key");
        return EX_CONFIG_;
    }
    a->token = a->key_buf;
    return EX_OK_;
}

int api_setup(cli_api_t *a, const char *key_file, int allow_http)
{
    if (!key_file || !*key_file)
        key_file = getenv("RUNTRACK_API_KEY_FILE");
    if (key_file && *key_file) {
        int rc = read_key_file(a, key_file);
        if (rc != EX_OK_)
            return rc;
    } else {
        const char *k = getenv("RUNTRACK_API_KEY");
        a->token = k && *k ? k : getenv("RUNTRACK_API_TOKEN");
    }
    if (!a->cacert) {
        const char *ca = getenv("RUNTRACK_API_CA");
        a->cacert = ca && *ca ? ca : NULL;
    }
    if (a->cacert && access(a->cacert, R_OK) != 0) {
        cli_err("--cacert \"%s\": cannot read: %s", a->cacert, strerror(errno));
        return EX_CONFIG_;
    }
    const char *ah = getenv("RUNTRACK_API_ALLOW_HTTP");
    allow_http = allow_http || (ah && strcmp(ah, "1") == 0);
    if (a->token && *a->token && !allow_http && rt_http_plain_remote(a->base)) {
        cli_err("refusing to send the API key to %s over plain http (anyone on the way could "
                "read it): use an https:// URL, or --allow-http / RUNTRACK_API_ALLOW_HTTP=1",
                a->base);
        return EX_CONFIG_;
    }
    return EX_OK_;
}

/* No answer came (he is not RT_HTTP_OK): prints why, returns the exit code. */
static int transport_error(const cli_api_t *a, const char *url, rt_http_err_t he, const char *err)
{
    switch (he) {
    case RT_HTTP_OK:
        break;
    case RT_HTTP_BAD_URL:
        cli_err("bad API URL \"%s\": %s (set --api or RUNTRACK_API)", a->base, err);
        return EX_USAGE_;
    case RT_HTTP_UNREACHABLE:
        /* A TLS server answers plain HTTP with nothing: say what the likely mistake is. */
        cli_err("API unreachable at %s: %s%s", a->base, err,
                strncmp(a->base, "http:", 5) == 0 && strstr(err, "Empty reply")
                    ? " (does the API serve HTTPS? then use an https:// URL)"
                    : "");
        return EX_UNAVAILABLE_;
    case RT_HTTP_TLS_VERIFY:
        cli_err("cannot verify the API's TLS certificate at %s: %s (give the CA that signed it "
                "with --cacert FILE or RUNTRACK_API_CA)",
                a->base, err);
        return EX_PROTOCOL_;
    case RT_HTTP_TOO_LARGE:
        cli_err("bad answer from %s: %s", url, err);
        return EX_DATAERR_;
    case RT_HTTP_INTERNAL:
        break;
    }
    cli_err("HTTP client: %s", err);
    return EX_SOFTWARE_;
}

/* The API answered with a status other than 2xx (msg: its error.message, or NULL): prints
 * why, returns the exit code. */
static int status_error(const cli_api_t *a, const char *url, long status, const char *what404,
                        const char *msg)
{
    if (status == 404 && what404) {
        if (*what404)
            cli_err("%s", what404);
        return EX_NOINPUT_;
    }
    if (status == 400) {
        cli_err("the API refused the request: %s", msg ? msg : "bad parameter");
        return EX_USAGE_;
    }
    if (status == 401 || status == 403) {
        cli_err("the API refused access (HTTP %ld)%s%s; check the API key (RUNTRACK_API_KEY or "
                "--api-key-file)",
                status, msg ? ": " : "", msg ? msg : "");
        return EX_NOPERM_;
    }
    if (status == 503) {
        cli_err("API unavailable at %s: %s", a->base, msg ? msg : "HTTP 503");
        return EX_UNAVAILABLE_;
    }
    cli_err("bad answer from %s: HTTP %ld%s%s", url, status, msg ? ": " : "", msg ? msg : "");
    return EX_DATAERR_;
}

int api_get(const cli_api_t *a, const char *path, const char *what404, json_t **json, char **raw)
{
    *json = NULL;
    if (raw)
        *raw = NULL;
    size_t n = strlen(a->base) + strlen(path) + 1;
    char *url = malloc(n);
    if (!url) {
        cli_err("out of memory");
        return EX_SOFTWARE_;
    }
    snprintf(url, n, "%s%s", a->base, path);
    char err[512];
    rt_http_resp_t r;
    rt_http_err_t he = rt_http_get(url, a->token, a->cacert, a->timeout_ms, &r, err, sizeof err);
    int rc = EX_OK_;
    json_t *j = NULL;
    char *msg = NULL;
    if (he != RT_HTTP_OK) {
        rc = transport_error(a, url, he, err);
        goto out;
    }
    json_error_t je;
    j = json_loadb(r.body, r.len, 0, &je);
    const char *emsg = json_is_object(j) ? fmt_jstr(json_object_get(j, "error"), "message") : NULL;
    if (emsg)
        msg = fmt_printable(emsg); /* stderr is a terminal too */
    if (r.status < 200 || r.status >= 300) {
        rc = status_error(a, url, r.status, what404, msg);
    } else if (!json_is_object(j)) {
        cli_err("bad answer from %s: %s", url, j ? "not a JSON object" : je.text);
        rc = EX_DATAERR_;
    } else {
        *json = j;
        j = NULL;
        if (raw) {
            *raw = r.body;
            r.body = NULL;
        }
    }
out:
    free(msg);
    json_decref(j);
    free(r.body);
    free(url);
    return rc;
}

int api_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        cli_err("out of memory");
        return EX_SOFTWARE_;
    }
    puts(s);
    free(s);
    return EX_OK_;
}

void api_print_raw(const char *raw)
{
    size_t n = strlen(raw);
    fputs(raw, stdout);
    if (n == 0 || raw[n - 1] != '\n')
        putchar('\n');
}
