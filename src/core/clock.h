/* Injectable clock: decisions take time from a tg_clock so tests can pin it. */
#ifndef TG_CORE_CLOCK_H
#define TG_CORE_CLOCK_H

#include <stdint.h>

struct tg_clock {
    int64_t (*now)(void *arg); /* seconds since the epoch */
    void *arg;
};

/* The system clock (CLOCK_REALTIME). */
extern const struct tg_clock tg_clock_system;

static inline int64_t
tg_clock_now(const struct tg_clock *c)
{
    return c->now(c->arg);
}

/* A fixed clock for tests: arg points at an int64_t. */
int64_t tg_clock_fixed_now(void *arg);

#endif
