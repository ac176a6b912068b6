/* libFuzzer target: the consumer's event decoder/validator (consumer/decode.c) on arbitrary
 * bytes. Every input must either decode (then the event's fields are read back, so ASan sees
 * any dangling borrowed pointer) or be rejected with a reason and a NUL-terminated detail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rt_event_t ev;
    rt_dead_reason_t why = RT_DEAD_NONE;
    char detail[512];
    memset(&ev, 0, sizeof ev);
    detail[0] = '\0';
    /* A small limit too, so the oversize path is fuzzed as well. */
    size_t max = (size > 0 && data[0] == 'X') ? 64 : 1 << 20;
    if (rt_decode(data, size, max, &ev, &why, detail, sizeof detail) == 0) {
        size_t n = strlen(ev.run_id) + strlen(ev.event_id) + strlen(ev.ts);
        if (ev.job)
            n += strlen(ev.job);
        if (ev.kind)
            n += strlen(ev.kind);
        if (ev.message)
            n += strlen(ev.message);
        if (ev.phase)
            n += strlen(ev.phase);
        if (n == 0 || why != RT_DEAD_NONE)
            abort(); /* decoded events always carry ids and a time */
        rt_event_clear(&ev);
    } else {
        if (why == RT_DEAD_NONE || why >= RT_DEAD__COUNT || strlen(detail) >= sizeof detail)
            abort(); /* a rejection always says why */
        if (!rt_dead_reason_name(why))
            abort();
    }
    return 0;
}
