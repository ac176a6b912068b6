/* The HTTP API as the query commands see it (api.h), over rt_http_get. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        cli_err("API unreachable at %s: %s", a->base, err);
        return EX_UNAVAILABLE_;
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
        cli_err("the API refused access (HTTP %ld)%s%s; set RUNTRACK_API_TOKEN", status,
                msg ? ": " : "", msg ? msg : "");
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
    rt_http_err_t he = rt_http_get(url, a->token, a->timeout_ms, &r, err, sizeof err);
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
