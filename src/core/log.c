#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum tg_log_level cur_level = TG_LOG_INFO;

void
tg_log_set_level(enum tg_log_level level)
{
    cur_level = level;
}

enum tg_log_level
tg_log_get_level(void)
{
    return cur_level;
}

static void vlog(const char *tag, const char *func, const char *suffix, const char *fmt,
                 va_list ap) __attribute__((format(printf, 4, 0)));

static void
vlog(const char *tag, const char *func, const char *suffix, const char *fmt, va_list ap)
{
    char msg[1024];
    char ts[32];
    struct timespec now;
    struct tm tm;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* One write per line so concurrent threads do not interleave. */
    fprintf(stderr, "%s tollgate %s%s%s%s%s%s\n", ts, tag, func ? func : "", func ? ": " : "", msg,
            suffix ? ": " : "", suffix ? suffix : "");
}

void
tg_log_warn(const char *fmt, ...)
{
    va_list ap;
    int saved = errno;

    if (cur_level < TG_LOG_WARN)
        return;
    va_start(ap, fmt);
    vlog("warn: ", NULL, strerror(saved), fmt, ap);
    va_end(ap);
    errno = saved;
}

void
tg_log_warnx(const char *fmt, ...)
{
    va_list ap;

    if (cur_level < TG_LOG_WARN)
        return;
    va_start(ap, fmt);
    vlog("warn: ", NULL, NULL, fmt, ap);
    va_end(ap);
}

void
tg_log_info(const char *fmt, ...)
{
    va_list ap;

    if (cur_level < TG_LOG_INFO)
        return;
    va_start(ap, fmt);
    vlog("info: ", NULL, NULL, fmt, ap);
    va_end(ap);
}

void
tg_log_debug_at(const char *func, const char *fmt, ...)
{
    va_list ap;

    if (cur_level < TG_LOG_DEBUG)
        return;
    va_start(ap, fmt);
    vlog("debug: ", func, NULL, fmt, ap);
    va_end(ap);
}

void
tg_fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog("fatal: ", NULL, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}
