/* A blocking HTTP(S) GET for the CLI's query commands, over libcurl (only the runtrack CLI links
 * libcurl; libruntrack never does). */
#ifndef RT_HTTP_GET_H
#define RT_HTTP_GET_H

#include <stddef.h>

#include "rt_attr.h"

typedef enum rt_http_err {
    RT_HTTP_OK = 0,      /* an HTTP answer arrived (any status) */
    RT_HTTP_BAD_URL,     /* the URL is malformed or not http/https */
    RT_HTTP_UNREACHABLE, /* connect/resolve/TLS/timeout/connection cut: no complete answer */
    RT_HTTP_TLS_VERIFY,  /* the server's certificate (or its name) could not be verified */
    RT_HTTP_TOO_LARGE,   /* the body is larger than RT_HTTP_MAX_BODY */
    RT_HTTP_INTERNAL,    /* out of memory, libcurl setup */
} rt_http_err_t;

/* Answers larger than this are refused (the API pages its lists; 64 MiB is far above a page). */
#define RT_HTTP_MAX_BODY (64u * 1024u * 1024u)

typedef struct rt_http_resp {
    long status; /* HTTP status code */
    char *body;  /* NUL-terminated, owned by the caller (free()); never NULL on RT_HTTP_OK */
    size_t len;  /* bytes in body, without the NUL */
} rt_http_resp_t;

/* Global libcurl setup/teardown; call once from the main thread before/after any rt_http_get. */
int rt_http_global_init(void) RT_MUSTCHECK;
void rt_http_global_cleanup(void);

/* GETs url (Accept: application/json; "Authorization: Bearer <token>" when token is non-NULL
 * and non-empty), waiting at most timeout_ms for the whole transfer. An https URL's certificate
 * is verified against cacert (a PEM file) when not NULL, else the system's CAs; the host name
 * always. No redirects are followed. On RT_HTTP_OK fills *resp (caller frees resp->body); on any
 * error resp->body is NULL and err holds a one-line reason, which never contains the token.
 * Blocks; safe to call from one thread at a time per process (no shared handle). */
rt_http_err_t rt_http_get(const char *url, const char *token, const char *cacert, long timeout_ms,
                          rt_http_resp_t *resp, char *err, size_t errsize) RT_MUSTCHECK;

/* 1 when url is a plain http:// URL whose host is not a loopback name or address (localhost,
 * 127.0.0.0/8, ::1): a bearer token sent there crosses the network in clear. 0 otherwise
 * (https, loopback, or a URL libcurl cannot parse, which rt_http_get will refuse anyway). */
int rt_http_plain_remote(const char *url);

/* Percent-encodes s for a path segment or query value; returns a malloc'd string or NULL. */
char *rt_http_escape(const char *s);

#endif
