/* rt_http_get over libcurl's easy interface: one handle per request (the CLI makes few), the
 * body collected into an rt_buf_t with a hard cap. */
#include "http_get.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rt_buf.h"
#include "runtrack.h"

/* The answer's body as it arrives, refused past RT_HTTP_MAX_BODY. */
typedef struct body {
    rt_buf_t buf;
    int too_large;
} body_t;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    body_t *b = userdata;
    size_t n = size * nmemb;
    if (n > RT_HTTP_MAX_BODY - b->buf.len) {
        b->too_large = 1;
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    }
    rt_buf_add(&b->buf, ptr, n);
    return b->buf.oom ? 0 : n;
}

int rt_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void rt_http_global_cleanup(void)
{
    curl_global_cleanup();
}

char *rt_http_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e)
        return NULL;
    char *copy = strdup(e); /* so callers free() it like everything else */
    curl_free(e);
    return copy;
}

/* Which curl failures mean "the API is not reachable" (retrying later may help) as opposed to a
 * URL the user got wrong. */
static rt_http_err_t classify(CURLcode c)
{
    switch (c) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return RT_HTTP_BAD_URL;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT:
        return RT_HTTP_INTERNAL;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        return RT_HTTP_TLS_VERIFY;
    default:
        return RT_HTTP_UNREACHABLE;
    }
}

/* 1 for "localhost", an IPv4 literal in 127.0.0.0/8 and the IPv6 literal [::1]. */
static int is_loopback(const char *host)
{
    struct in_addr a;
    if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
        return 1;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

int rt_http_plain_remote(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int remote = 0;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && strcasecmp(scheme, "http") == 0)
        remote = !is_loopback(host);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return remote;
}

rt_http_err_t rt_http_get(const char *url, const char *token, const char *cacert, long timeout_ms,
                          rt_http_resp_t *resp, char *err, size_t errsize)
{
    rt_http_err_t rc = RT_HTTP_INTERNAL;
    body_t b = {0};
    struct curl_slist *hdrs = NULL, *h;
    char *auth = NULL;
    char cerr[CURL_ERROR_SIZE] = "";
    resp->status = 0;
    resp->body = NULL;
    resp->len = 0;
    snprintf(err, errsize, "internal error");

    CURL *c = curl_easy_init();
    if (!c)
        goto out;
    if (!(h = curl_slist_append(hdrs, "Accept: application/json")))
        goto out;
    hdrs = h;
    if (token && *token) {
        size_t n = strlen(token) + sizeof "Authorization: Bearer ";
        if (!(auth = malloc(n)))
            goto out;
        snprintf(auth, n, "Authorization: Bearer %s", token);
        if (!(h = curl_slist_append(hdrs, auth)))
            goto out;
        hdrs = h;
    }
    char ua[64];
    snprintf(ua, sizeof ua, "runtrack/%s", runtrack_version());
    /* NOSIGNAL: no SIGALRM games behind our back (logs --follow has its own SIGINT handler). */
    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_USERAGENT, ua) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK ||
        (cacert && curl_easy_setopt(c, CURLOPT_CAINFO, cacert) != CURLE_OK))
        goto out;
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        if (b.too_large) {
            snprintf(err, errsize, "answer larger than %u bytes", RT_HTTP_MAX_BODY);
            rc = RT_HTTP_TOO_LARGE;
        } else {
            snprintf(err, errsize, "%s", *cerr ? cerr : curl_easy_strerror(cc));
            rc = classify(cc);
        }
        goto out;
    }
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK)
        goto out;
    resp->body = rt_buf_take(&b.buf, &resp->len);
    if (!resp->body && !(resp->body = calloc(1, 1)))
        goto out;
    err[0] = '\0';
    rc = RT_HTTP_OK;
out:
    rt_buf_free(&b.buf);
    free(auth);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}
