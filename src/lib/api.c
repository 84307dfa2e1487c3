#include "tollgate.h"

#include "core/err.h"

const char *
tollgate_version(void)
{
    return TOLLGATE_VERSION;
}

const char *
tollgate_error_name(int err)
{
    return tg_err_name((enum tg_err)err);
}

const char *
tollgate_error_oauth(int err, const char *context_error)
{
    return tg_err_oauth((enum tg_err)err, context_error);
}
