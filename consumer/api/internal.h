/* Inside the HTTP API only (server.c, request.c, cache.c, auth.c): the server and the request
 * as those files share them. Handler modules use request.h. */
#ifndef RT_API_INTERNAL_H
#define RT_API_INTERNAL_H

#include <microhttpd.h>
#include <netinet/in.h>

#include "api.h"
#include "view.h"
#include "pool.h"
#include "api/web/web_assets.h"

typedef struct rt_req rt_req_t;
struct rt_cache;
struct rt_cache_blob;

struct rt_api {
    const rt_config_t *cfg; /* the caller's settings */
    rt_api_conf_t conf;     /* their parsed view (handlers' rt_req_conf) */
    rt_api_hooks_t hooks;   /* bearer_token points to the copy below */
    char *bearer_token;
    struct sockaddr_in addr;
    struct MHD_Daemon *mhd;
    rt_pool_t *pool;
    struct rt_cache *cache; /* NULL when http_cache_ms is 0 */
};

struct rt_req {
    rt_api_t *api;
    struct MHD_Connection *mhd; /* NULL: a refresh of a cached report, args below */
    char *const *args;          /* ... its query (name, value, ... nargs pairs) */
    size_t nargs;
    rt_pool_slot_t *slot;
    unsigned status;
    char *body;
    size_t body_len;
    const char *ctype;
    const char *allow; /* Allow header for 405 */
    size_t upload_bytes;
    int too_large;
    const rt_web_asset_t *asset; /* a dashboard file to send instead of body */
    int not_modified;            /* ... as 304: the client's If-None-Match has its ETag */
    int cacheable;               /* a route answered through the report cache */
    struct rt_cache_blob *blob;  /* the answer is this kept one (a reference), not body */
    long age_s;                  /* >= 0: answered from the cache, this many seconds old */
};

/* Gives req's pooled connection back (if it holds one). */
void rt_req_release_conn(rt_req_t *req);

/* Bytes of the query parameters (names, values and separators), for the URI length limit. */
size_t rt_req_query_bytes(rt_req_t *req);

#endif
