#include "core/clock.h"

#include <time.h>

static int64_t
system_now(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

const struct tg_clock tg_clock_system = {system_now, NULL};

int64_t
tg_clock_fixed_now(void *arg)
{
    return *(const int64_t *)arg;
}
