/* The report cache (docs/api.md#report-cache): the last 200 answer per route + query string,
 * reused for http_cache_ms and recomputed ahead of time by a refresher thread while clients ask
 * for it. A bounded table, the least recently used answer evicted first. */
#ifndef RT_API_CACHE_H
#define RT_API_CACHE_H

#include <stddef.h>

typedef struct rt_req rt_req_t;
typedef struct rt_cache rt_cache_t;
typedef struct rt_cache_blob rt_cache_blob_t;

/* A cache answering for api (whose settings give the TTL and the statement timeout) with its
 * refresher thread running. NULL and a one-line reason in err on failure. */
struct rt_api;
rt_cache_t *rt_cache_new(struct rt_api *api, char *err, size_t errsize);
/* Stops the refresher and frees every kept answer (responses still being sent keep theirs).
 * Call after the server stopped: no request may use c any more. NULL is a no-op. */
void rt_cache_free(rt_cache_t *c);

/* Answers req with handler h through the cache (see cache.c for the rules); path is the route.
 * The answer is either req's own body or a reference in req->blob. */
void rt_cache_serve(rt_cache_t *c, rt_req_t *req, const char *path, void (*h)(rt_req_t *));

/* A kept answer's bytes, and dropping a reference to it (MHD's free callback). */
const char *rt_cache_blob_data(const rt_cache_blob_t *b, size_t *len);
void rt_cache_blob_unref(void *blob);

#endif
