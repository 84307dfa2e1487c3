#include "test.h"

#include "core/err.h"
#include "tollgate.h"

static void
test_table_complete(void)
{
    int i;

    for (i = 0; i < TG_ERR__COUNT; i++) {
        CHECK(tg_err_name((enum tg_err)i) != NULL);
        CHECK(strncmp(tg_err_name((enum tg_err)i), "TG_", 3) == 0);
        CHECK(tg_err_description((enum tg_err)i) != NULL);
        CHECK(tg_err_status((enum tg_err)i) >= 200 && tg_err_status((enum tg_err)i) < 600);
    }
    /* Out of range maps to internal, never crashes. */
    CHECK(strcmp(tg_err_name((enum tg_err)9999), "TG_ERR_INTERNAL") == 0);
    CHECK(strcmp(tg_err_name((enum tg_err)-1), "TG_ERR_INTERNAL") == 0);
}

static void
test_names_distinct(void)
{
    int i, j;

    for (i = 0; i < TG_ERR__COUNT; i++)
        for (j = i + 1; j < TG_ERR__COUNT; j++)
            CHECK(strcmp(tg_err_name((enum tg_err)i), tg_err_name((enum tg_err)j)) != 0);
}

static void
test_oauth_context(void)
{
    /* A JOSE failure takes the caller's context error... */
    CHECK(strcmp(tg_err_oauth(TG_ERR_JWS_SIG_INVALID, "invalid_dpop_proof"),
                 "invalid_dpop_proof") == 0);
    CHECK(strcmp(tg_err_oauth(TG_ERR_JWS_SIG_INVALID, "invalid_client"), "invalid_client") == 0);
    /* ...while fixed codes keep their own. */
    CHECK(strcmp(tg_err_oauth(TG_ERR_NOMEM, "invalid_client"), "server_error") == 0);
    CHECK(tg_err_status(TG_ERR_INTERNAL) == 500);
    CHECK(strcmp(tollgate_error_name(TG_ERR_JWS_ALG_NONE), "TG_ERR_JWS_ALG_NONE") == 0);
    CHECK(strcmp(tollgate_version(), TOLLGATE_VERSION) == 0);
}

static enum tg_err
raise_it(void)
{
    TG_ENSURE(0, TG_ERR_JWS_CRIT, "detail %d", 42);
}

static void
test_detail(void)
{
    tg_err_clear();
    CHECK(tg_err_detail()[0] == '\0');
    CHECK_ERR(raise_it(), TG_ERR_JWS_CRIT);
    CHECK(strstr(tg_err_detail(), "TG_ERR_JWS_CRIT") != NULL);
    CHECK(strstr(tg_err_detail(), "test_err.c") != NULL);
    CHECK(strstr(tg_err_detail(), "detail 42") != NULL);
}

int
main(void)
{
    RUN(test_table_complete);
    RUN(test_names_distinct);
    RUN(test_oauth_context);
    RUN(test_detail);
    return t_report("core/err");
}
