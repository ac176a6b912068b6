/* Admin endpoints (admin.c): API keys and the audit trail. Each needs scope admin (server.c's
 * route table); creating and revoking keys is audited there. */
#ifndef RT_API_ADMIN_H
#define RT_API_ADMIN_H

#include "request.h"

void rt_api_keys_list(rt_req_t *req);                   /* GET /api/keys */
void rt_api_keys_create(rt_req_t *req);                 /* POST /api/keys */
void rt_api_keys_revoke(rt_req_t *req, const char *id); /* DELETE /api/keys/{id} */
void rt_api_audit(rt_req_t *req);                       /* GET /api/audit */

#endif
