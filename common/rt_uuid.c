#include "rt_uuid.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int rt_rng_seed(rt_rng_t *rng)
{
    if (getrandom(rng->s, sizeof rng->s, 0) == (ssize_t)sizeof rng->s &&
        (rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) != 0)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + ((uint64_t)getpid() << 40);
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
    return -1;
}

uint64_t rt_rng_next(rt_rng_t *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void rt_uuid_v7(rt_rng_t *rng, int64_t now_us, char out[RT_UUID_STRLEN])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    uint64_t ms = (uint64_t)(now_us / 1000);
    uint64_t r1 = rt_rng_next(rng), r2 = rt_rng_next(rng);
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    for (int i = 6; i < 8; i++)
        b[i] = (unsigned char)(r1 >> (8 * i));
    for (int i = 8; i < 16; i++)
        b[i] = (unsigned char)(r2 >> (8 * (i - 8)));
    b[6] = (unsigned char)(0x70 | (b[6] & 0x0f)); /* version 7 */
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f)); /* RFC 9562 variant */
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

int rt_uuid_valid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return s[36] == '\0';
}
