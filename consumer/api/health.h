/* GET /api/health: seed 002's health report applied to runs (docs/api.md#health). The parts
 * of the report (parse, query, rules, render) are declared in health_internal.h, for health.c
 * and the tests. */
#ifndef RT_HEALTH_H
#define RT_HEALTH_H

#include "request.h"

void rt_health_handle(rt_req_t *req);

#endif
