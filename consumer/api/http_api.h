/* The HTTP API's headers in one include: api.h (start/stop, for main) and request.h (the
 * rt_req_* helpers, for handler modules). New code includes the one it needs. */
#ifndef RT_HTTP_API_H
#define RT_HTTP_API_H

#include "api.h"
#include "request.h"

#endif
