#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

struct tg_err_row {
    const char *name;
    const char *rfc;
    int status;
    const char *desc;
};

static const struct tg_err_row rows[TG_ERR__COUNT] = {
#define TG_ERR_ROW_(code, rfc, status, desc) [code] = {#code, rfc, status, desc},
    TG_ERR_LIST(TG_ERR_ROW_)
#undef TG_ERR_ROW_
};

static _Thread_local char detail[256];

static const struct tg_err_row *
row(enum tg_err err)
{
    if ((unsigned)err >= TG_ERR__COUNT)
        err = TG_ERR_INTERNAL;
    return &rows[err];
}

const char *
tg_err_name(enum tg_err err)
{
    return row(err)->name;
}

const char *
tg_err_description(enum tg_err err)
{
    return row(err)->desc;
}

const char *
tg_err_oauth(enum tg_err err, const char *context_error)
{
    const char *rfc = row(err)->rfc;

    return rfc != NULL ? rfc : context_error;
}

int
tg_err_status(enum tg_err err)
{
    return row(err)->status;
}

void
tg_err_raise_at(enum tg_err err, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    int n;

    n = snprintf(detail, sizeof(detail), "%s at %s:%d: ", tg_err_name(err), file, line);
    if (n < 0 || (size_t)n >= sizeof(detail))
        return;
    va_start(ap, fmt);
    vsnprintf(detail + n, sizeof(detail) - (size_t)n, fmt, ap);
    va_end(ap);
}

const char *
tg_err_detail(void)
{
    return detail;
}

void
tg_err_clear(void)
{
    detail[0] = '\0';
}
