/* jansson's frees wipe first (core/mem.h): a parsed private JWK's members
 * are zero by the time their memory goes back to the allocator. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "test.h"

#include "core/mem.h"

static size_t frees, dirty;

/* Stands in for free: every block must reach it already zero. */
static void
spy_free(void *p)
{
    const unsigned char *b = p;
    size_t i, n = malloc_usable_size(p);

    frees++;
    for (i = 0; i < n; i++)
        if (b[i] != 0) {
            dirty++;
            break;
        }
    free(p);
}

static void
test_wiped(void)
{
    /* RFC 8037 A.1's private Ed25519 key: "d" is the secret. */
    static const char text[] =
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
        "\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
    json_t *o;

    frees = dirty = 0;
    o = json_loads(text, 0, NULL);
    CHECK(o != NULL && json_string_value(json_object_get(o, "d")) != NULL);
    json_decref(o);
    CHECK(frees >= 4); /* the object, its table and the strings at least */
    CHECK(dirty == 0);
    tg_json_wipe_free(NULL); /* free(NULL) is fine, so is this */
}

int
main(void)
{
    tg_json_wipe_inner_free = spy_free;
    tg_json_wipe_install();
    RUN(test_wiped);
    return t_report("core/json_wipe");
}
