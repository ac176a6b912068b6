/* unit.web: the dashboard compiled into the consumer (consumer/api/web/embed_web.cmake) is complete
 * and consistent without a browser: index.html is there, every file has the right content type
 * and a quoted ETag, every /assets/... reference in the HTML and every relative module import
 * in the JS resolves to an embedded file; and the display_tz check (rt_api_valid_tz). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "api/api.h"
#include "api/web/web_assets.h"

static const rt_web_asset_t *find(const char *path)
{
    for (size_t i = 0; i < rt_web_assets_count; i++)
        if (strcmp(rt_web_assets[i].path, path) == 0)
            return &rt_web_assets[i];
    return NULL;
}

/* A NUL-terminated copy of an asset's bytes (caller frees). */
static char *text_of(const rt_web_asset_t *a)
{
    char *s = malloc(a->size + 1);
    if (s) {
        memcpy(s, a->data, a->size);
        s[a->size] = '\0';
    }
    return s;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void test_table(test_state_t *ts)
{
    REQUIRE(ts, rt_web_assets_count >= 5);
    REQUIRE(ts, find("/index.html") != NULL);
    CHECK(ts, find("/assets/app.js") && find("/assets/app.css") && find("/assets/favicon.svg"));
    for (size_t i = 0; i < rt_web_assets_count; i++) {
        const rt_web_asset_t *a = &rt_web_assets[i];
        const char *ct = a->content_type;
        CHECK(ts, a->size > 0 && a->data[a->size] == '\0');
        CHECK(ts, a->etag[0] == '"' && strlen(a->etag) == 22 && a->etag[21] == '"');
        if (ends_with(a->path, ".js"))
            CHECK_STR(ts, ct, "text/javascript; charset=utf-8");
        else if (ends_with(a->path, ".css"))
            CHECK_STR(ts, ct, "text/css; charset=utf-8");
        else if (ends_with(a->path, ".html"))
            CHECK_STR(ts, ct, "text/html; charset=utf-8");
        else if (ends_with(a->path, ".svg"))
            CHECK_STR(ts, ct, "image/svg+xml");
        else
            CHECK(ts, !"unexpected file type");
        for (size_t j = 0; j < i; j++)
            CHECK(ts, strcmp(rt_web_assets[j].etag, a->etag) != 0);
    }
}

/* Every "/assets/NAME" in index.html and every "./NAME.js" in the modules is embedded, and no
 * file uses inline handlers or inline styles (the CSP would block them). */
static void test_references(test_state_t *ts)
{
    for (size_t i = 0; i < rt_web_assets_count; i++) {
        const rt_web_asset_t *a = &rt_web_assets[i];
        char *s = text_of(a);
        REQUIRE(ts, s != NULL);
        const char *prefix = ends_with(a->path, ".html") ? "\"/assets/" : "from './";
        size_t plen = strlen(prefix);
        for (const char *p = strstr(s, prefix); p; p = strstr(p + 1, prefix)) {
            const char *name = p + plen;
            size_t n = strcspn(name, "\"'");
            char path[128];
            snprintf(path, sizeof path, "/assets/%.*s", (int)n, name);
            if (!find(path))
                fprintf(stderr, "%s references missing %s\n", a->path, path);
            CHECK(ts, find(path) != NULL);
        }
        if (ends_with(a->path, ".html")) {
            CHECK(ts, strstr(s, " style=") == NULL && strstr(s, " onclick=") == NULL);
            CHECK(ts, strstr(s, "<script>") == NULL && strstr(s, "<style") == NULL);
            CHECK(ts, strstr(s, "http://") == NULL && strstr(s, "https://") == NULL);
        }
        if (ends_with(a->path, ".js"))
            CHECK(ts, strstr(s, ".innerHTML") == NULL && strstr(s, "eval(") == NULL);
        free(s);
    }
}

static void test_valid_tz(test_state_t *ts)
{
    CHECK(ts, rt_api_valid_tz(NULL));
    CHECK(ts, rt_api_valid_tz(""));
    CHECK(ts, rt_api_valid_tz("UTC"));
    CHECK(ts, rt_api_valid_tz("America/New_York"));
    CHECK(ts, rt_api_valid_tz("America/Argentina/Buenos_Aires"));
    CHECK(ts, rt_api_valid_tz("Etc/GMT+5"));
    CHECK(ts, rt_api_valid_tz("America/Port-au-Prince"));
    CHECK(ts, !rt_api_valid_tz("Europe/Berlin\""));
    CHECK(ts, !rt_api_valid_tz("<script>"));
    CHECK(ts, !rt_api_valid_tz("/etc/passwd"));
    CHECK(ts, !rt_api_valid_tz("Europe/"));
    CHECK(ts, !rt_api_valid_tz("../x"));
    CHECK(ts, !rt_api_valid_tz("Europe Berlin"));
    char longname[80];
    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK(ts, !rt_api_valid_tz(longname));
}

TEST_MAIN(TEST(test_table), TEST(test_references), TEST(test_valid_tz))
