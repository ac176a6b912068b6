/* Bearer-token checks for state-changing endpoints (api.h). */
#include <string.h>

#include "internal.h"

int rt_api_token_equal(const char *given, const char *expected)
{
    if (!given || !expected)
        return 0;
    size_t gl = strlen(given), el = strlen(expected);
    /* Walk the expected token's length whatever was given, so timing leaks lengths only. */
    unsigned char diff = (unsigned char)(gl != el);
    for (size_t i = 0; i < el; i++) {
        unsigned char g = i < gl ? (unsigned char)given[i] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)expected[i]);
    }
    return diff == 0;
}

int rt_api_check_bearer(const rt_api_t *api, const char *authorization)
{
    if (!api || !api->bearer_token || !*api->bearer_token || !authorization)
        return 0;
    if (strncmp(authorization, "Bearer ", 7) != 0)
        return 0;
    return rt_api_token_equal(authorization + 7, api->bearer_token);
}
