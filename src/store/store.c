/* Backend-independent parts of the store interface: releasing what getters
 * and lists return. */
#include <stdlib.h>

#include "core/mem.h"
#include "store/store.h"

void
tg_signing_key_row_reset(struct tg_signing_key_row *k)
{
    if (k == NULL)
        return;
    free(k->kid);
    free(k->alg);
    if (k->sealed != NULL) {
        tg_wipe(k->sealed, k->sealed_len);
        free(k->sealed);
    }
    free(k->public_jwk);
    tg_wipe(k, sizeof(*k));
}

void
tg_store_agent_list_free(struct tg_agent *list, size_t n)
{
    size_t i;

    for (i = 0; list != NULL && i < n; i++)
        tg_agent_reset(&list[i]);
    free(list);
}

void
tg_store_tool_list_free(struct tg_tool *list, size_t n)
{
    size_t i;

    for (i = 0; list != NULL && i < n; i++)
        tg_tool_reset(&list[i]);
    free(list);
}

void
tg_store_grant_list_free(struct tg_grant *list, size_t n)
{
    size_t i;

    for (i = 0; list != NULL && i < n; i++)
        tg_grant_reset(&list[i]);
    free(list);
}

void
tg_store_key_list_free(struct tg_signing_key_row *list, size_t n)
{
    size_t i;

    for (i = 0; list != NULL && i < n; i++)
        tg_signing_key_row_reset(&list[i]);
    free(list);
}
