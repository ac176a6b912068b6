#include "harness.h"
#include "rt_buf.h"
#include "rt_event.h"
#include "rt_time.h"
#include "rt_uuid.h"

#include <stdint.h>

static void time_round_trip(test_state_t *ts)
{
    char buf[RT_TIME_STRLEN];
    int64_t us = 1764069348123456; /* 2025-11-25T11:15:48.123456Z */
    REQUIRE(ts, rt_time_format(us, buf, sizeof buf) == 27);
    CHECK_STR(ts, buf, "2025-11-25T11:15:48.123456Z");
    int64_t back = 0;
    CHECK(ts, rt_time_parse(buf, &back) == 0 && back == us);
    CHECK(ts, rt_time_parse("2025-11-25T06:15:48.123456-05:00", &back) == 0 && back == us);
    CHECK(ts, rt_time_parse("2025-11-25 11:15:48.1234560Z", &back) == -1); /* 7 digits */
    CHECK(ts, rt_time_parse("2025-02-29T00:00:00Z", &back) == -1);         /* not leap */
    CHECK(ts, rt_time_parse("2024-02-29T00:00:00Z", &back) == 0);
    CHECK(ts, rt_time_parse("2025-11-25T11:15:48", &back) == -1); /* no zone */
    CHECK(ts, rt_time_parse("1970-01-01T00:00:00Z", &back) == 0 && back == 0);
    CHECK(ts, rt_time_format(-1, buf, sizeof buf) == 27);
    CHECK_STR(ts, buf, "1969-12-31T23:59:59.999999Z");
}

static void uuid_v7_shape(test_state_t *ts)
{
    rt_rng_t rng;
    rt_rng_seed(&rng);
    char a[RT_UUID_STRLEN], b[RT_UUID_STRLEN];
    rt_uuid_v7(&rng, 1764069348123456, a);
    rt_uuid_v7(&rng, 1764069348123456, b);
    CHECK(ts, rt_uuid_valid(a) && rt_uuid_valid(b));
    CHECK(ts, strcmp(a, b) != 0);
    CHECK(ts, a[14] == '7');
    CHECK(ts, a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
    CHECK(ts, strncmp(a, "019ababa-131b-", 14) == 0); /* 48-bit ms 0x019ababa131b */
    CHECK(ts, !rt_uuid_valid("not-a-uuid"));
    CHECK(ts, !rt_uuid_valid("019abb0b-0000-7000-8000-00000000000g"));
}

static void vocabulary(test_state_t *ts)
{
    rt_event_type_t t;
    CHECK(ts, rt_event_type_from_name("run.finished", &t) == 0 && t == RT_EV_FINISHED);
    CHECK(ts, rt_event_type_from_name("run.exploded", &t) == -1);
    CHECK_STR(ts, rt_log_level_name(RT_LOG_SUCCESS), "success");
    CHECK(ts, rt_log_level_name((rt_log_level_t)99) == NULL);
    CHECK(ts, rt_counter_name_valid("sites_completed"));
    CHECK(ts, !rt_counter_name_valid("Sites"));
    CHECK(ts, !rt_counter_name_valid(""));
    CHECK(ts, rt_run_status_terminal(RT_STATUS_PARTIAL) && !rt_run_status_terminal(RT_STATUS_RUNNING));
}

static void json_escape(test_state_t *ts)
{
    char buf[64];
    const char in[] = "a\"b\\\n\x01\xff\xc3\xa9";
    size_t n = rt_json_escape(in, sizeof in - 1, buf, sizeof buf);
    CHECK_STR(ts, buf, "\"a\\\"b\\\\\\n\\u0001\xef\xbf\xbd\xc3\xa9\"");
    CHECK(ts, n == strlen(buf));
    char small[4];
    CHECK(ts, rt_json_escape("abcdef", 6, small, sizeof small) == 8);
    CHECK_STR(ts, small, "\"ab");
}

/* rt_grow: the first size when empty, the same array while there is room, twice the capacity
 * when full (items kept), and NULL with the array untouched when the size would overflow. */
static void grow(test_state_t *ts)
{
    size_t cap = 0;
    int *a = rt_grow(NULL, 0, &cap, sizeof *a, 4);
    REQUIRE(ts, a != NULL);
    CHECK(ts, cap == 4);
    for (int i = 0; i < 4; i++)
        a[i] = i;
    CHECK(ts, rt_grow(a, 3, &cap, sizeof *a, 4) == a && cap == 4);
    int *b = rt_grow(a, 4, &cap, sizeof *b, 4);
    REQUIRE(ts, b != NULL);
    a = b;
    CHECK(ts, cap == 8 && a[0] == 0 && a[3] == 3);
    size_t huge = SIZE_MAX / 2 + 1;
    CHECK(ts, rt_grow(a, huge, &huge, 1, 4) == NULL && huge == SIZE_MAX / 2 + 1);
    size_t big = SIZE_MAX / 8;
    CHECK(ts, rt_grow(a, big, &big, 8, 4) == NULL && big == SIZE_MAX / 8);
    free(a);
}

TEST_MAIN(TEST(time_round_trip), TEST(uuid_v7_shape), TEST(vocabulary), TEST(json_escape),
          TEST(grow))
