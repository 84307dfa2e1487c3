#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "policy/policy_yaml.h"
#include "policy/authz.h"
#include "policy/match.h"

static struct tg_policy pol;
static int loaded;

static const char fixture[] =
    "version: 1\nagents:\n  - {id: bot, type: internal, owner: o, auth: client_secret_basic, sender_constraint: bearer}\n"
    "tools:\n  - id: demo\n    resource: http://x/demo\n    endpoints:\n"
    "      - {method: GET, path: /items, action: read}\n"
    "      - {method: GET, path: \"/items/{id}\", action: read}\n"
    "      - {method: POST, path: /items, action: write}\n"
    "      - {method: DELETE, path: \"/items/{id}\", action: admin, risk: high}\n"
    "      - {method: \"*\", path: \"/a/*/b\", action: read}\n"
    "  - {id: \"n:s\", resource: \"https://s/\"}\n"
    "grants:\n  - {agent: bot, tool: demo, actions: [read, admin], endpoints: [\"GET /items\", \"DELETE /items/{id}\"]}\n"
    "  - {agent: bot, tool: \"n:s\", actions: [read, write]}\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_policy p;
    struct tg_policy_error e;
    struct tg_authz_request req;
    struct tg_authz_result res;
    const struct tg_endpoint *ep;
    struct tg_slice parts[3] = {{0}}, rs[2];
    size_t i, start = 0, k = 0;
    const char *why;

    if (!loaded) {
        if (tg_policy_parse_yaml(fixture, strlen(fixture), TG_POLICY_YAML_SELF_CONTAINED, &pol, &e) != TG_OK)
            abort();
        loaded = 1;
    }
    if (size > 0 && data[0] == 'Y') {
        if (tg_policy_parse_yaml((const char *)data + 1, size - 1, TG_POLICY_YAML_SELF_CONTAINED, &p, &e) == TG_OK)
            tg_policy_reset(&p);
        return 0;
    }
    /* split on \n into scope, authorization_details, resource */
    for (i = 0; i <= size && k < 3; i++) {
        if (i == size || data[i] == '\n') {
            parts[k++] = tg_slice(data + start, i - start);
            start = i + 1;
        }
    }
    rs[0] = parts[2];
    if (tg_authz_request_parse(parts[0], parts[1], rs, parts[2].p ? 1 : 0, &req, &why) == TG_OK) {
        struct tg_authz_context ctx = {&pol.agents[0], pol.grants, pol.n_grants, pol.tools, pol.n_tools, size & 1};
        if (tg_authz_decide(&ctx, &req, &res, &why) == TG_OK) {
            if (res.scope == NULL || res.authorization_details == NULL) abort();
            tg_authz_result_reset(&res);
        }
        tg_authz_request_reset(&req);
    }
    (void)tg_endpoint_match(pol.tools[0].endpoints, pol.tools[0].n_endpoints, parts[1], parts[0], &ep);
    return 0;
}
