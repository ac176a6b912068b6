/* Computing the HTTP API's view (view.h) from the one settings struct. */
#ifndef RT_API_SETTINGS_H
#define RT_API_SETTINGS_H

#include <stddef.h>

#include "config.h"
#include "rt_attr.h"
#include "view.h"

/* Fills c from cfg (which must outlive c). Returns 0, or -1 with a one-line reason naming the
 * setting (health_windows not a list of hours, a health_*_critical bound above its
 * health_*_healthy one, out of memory). Free with rt_api_conf_free, also after a failure. */
int rt_api_conf_init(rt_api_conf_t *c, const rt_config_t *cfg, char *err,
                     size_t errsize) RT_MUSTCHECK;
void rt_api_conf_free(rt_api_conf_t *c);

struct rt_auth_secret;
/* The auth settings together (auth.h): the mode (auth off refused on a non-loopback address
 * without auth_insecure), the server secret (read into *secret when not NULL, else only
 * checked), and a secret present whenever keys are required. 0 with *required (may be NULL),
 * or -1 with a one-line reason saying what to do. */
int rt_api_auth_settings(const rt_config_t *cfg, int *required, struct rt_auth_secret *secret,
                         char *err, size_t errsize) RT_MUSTCHECK;

#endif
