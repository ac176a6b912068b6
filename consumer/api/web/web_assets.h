/* The dashboard's files (consumer/api/web/), compiled into the consumer by embed_web.cmake. */
#ifndef RT_WEB_ASSETS_H
#define RT_WEB_ASSETS_H

#include <stddef.h>

typedef struct rt_web_asset {
    const char *path;         /* URL path: "/index.html" or "/assets/<file>" */
    const char *content_type; /* e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t size;
    const char *etag; /* quoted strong validator from the content's SHA-256 */
} rt_web_asset_t;

extern const rt_web_asset_t rt_web_assets[];
extern const size_t rt_web_assets_count;

#endif
