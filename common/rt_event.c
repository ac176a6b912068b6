#include "rt_event.h"

#include <string.h>

#define NAME_TABLE(list, type, fn)                                                                 \
    static const char *const fn##_table[] = {list(X_NAME)};                                        \
    const char *fn(type v)                                                                         \
    {                                                                                              \
        return (unsigned)v < sizeof fn##_table / sizeof fn##_table[0] ? fn##_table[v] : NULL;      \
    }
#define X_NAME(n, s) s,

NAME_TABLE(RT_EVENT_TYPES, rt_event_type_t, rt_event_type_name)
NAME_TABLE(RT_LOG_LEVELS, rt_log_level_t, rt_log_level_name)
NAME_TABLE(RT_RUN_STATUSES, rt_run_status_t, rt_run_status_name)
NAME_TABLE(RT_STD_COUNTERS, rt_std_counter_t, rt_std_counter_name)

static int lookup(const char *const *table, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(table[i], s) == 0)
            return i;
    return -1;
}

#define FROM_NAME(fn, table, type, count)                                                          \
    int fn(const char *s, type *out)                                                               \
    {                                                                                              \
        int i = lookup(table, count, s);                                                           \
        if (i < 0)                                                                                 \
            return -1;                                                                             \
        *out = (type)i;                                                                            \
        return 0;                                                                                  \
    }

FROM_NAME(rt_event_type_from_name, rt_event_type_name_table, rt_event_type_t, RT_EV__COUNT)
FROM_NAME(rt_log_level_from_name, rt_log_level_name_table, rt_log_level_t, RT_LOG__COUNT)
FROM_NAME(rt_run_status_from_name, rt_run_status_name_table, rt_run_status_t, RT_STATUS__COUNT)

int rt_counter_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

int rt_run_status_terminal(rt_run_status_t s)
{
    return s == RT_STATUS_COMPLETED || s == RT_STATUS_FAILED || s == RT_STATUS_PARTIAL;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 if it is not valid. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        len = 2, min = 0x80, c &= 0x1f;
    else if ((c & 0xf0) == 0xe0)
        len = 3, min = 0x800, c &= 0x0f;
    else if ((c & 0xf8) == 0xf0)
        len = 4, min = 0x10000, c &= 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

size_t rt_json_escape(const char *s, size_t len, char *buf, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (o + 1 < size)                                                                          \
            buf[o] = (char)(ch);                                                                   \
        o++;                                                                                       \
    } while (0)
    PUT('"');
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t n = utf8_seq_len(p + i, len - i);
            if (n == 0) { /* U+FFFD */
                PUT(0xef);
                PUT(0xbf);
                PUT(0xbd);
                i++;
            } else {
                for (size_t k = 0; k < n; k++)
                    PUT(p[i + k]);
                i += n;
            }
            continue;
        }
        i++;
        switch (c) {
        case '"':
            PUT('\\');
            PUT('"');
            break;
        case '\\':
            PUT('\\');
            PUT('\\');
            break;
        case '\n':
            PUT('\\');
            PUT('n');
            break;
        case '\r':
            PUT('\\');
            PUT('r');
            break;
        case '\t':
            PUT('\\');
            PUT('t');
            break;
        default:
            if (c < 0x20) {
                PUT('\\');
                PUT('u');
                PUT('0');
                PUT('0');
                PUT(hex[c >> 4]);
                PUT(hex[c & 15]);
            } else {
                PUT(c);
            }
        }
    }
    PUT('"');
#undef PUT
    if (size > 0)
        buf[o < size ? o : size - 1] = '\0';
    return o;
}
