/* libFuzzer target: the consumer's event decoder (consumer/ingest/decode.c + jscan.c) on arbitrary
 * bytes, differentially against the jansson decoder it replaced (tests/decode_ref.c). Every
 * input must either decode in both with the same fields (the event's strings are read back,
 * so ASan sees any dangling pointer; object texts must load to jansson's values) or be rejected
 * by both with the same reason and a NUL-terminated detail. Two deliberate differences: a
 * raw NUL byte right after a number or literal, which jansson skips and we reject — checked by
 * asking jansson about the same input with a space there; and values PostgreSQL's columns
 * refuse (a percent that underflows real, a leap second with a fraction), which we reject as
 * schema — checked against the value jansson's decoder read. rt_decode_compare holds all of it;
 * the detail texts themselves are compared on the unit test's corpus (test_decode_diff.c). */
#include <stdint.h>
#include <stdlib.h>

#include "decode_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A small limit too, so the oversize path is fuzzed as well. */
    size_t max = (size > 0 && data[0] == 'X') ? 64 : 1 << 20;
    if (rt_decode_compare(data, size, max, 0, NULL))
        abort();
    return 0;
}
