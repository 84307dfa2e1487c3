/* The policy file (docs/policy.md): YAML in a buffer -> agents, tools and
 * grants. Strict: unknown keys, duplicate keys, anchors, aliases, tags,
 * secrets and more than one document are refused, each with the line and
 * column of the offending node. */
#ifndef TG_POLICY_POLICY_YAML_H
#define TG_POLICY_POLICY_YAML_H

#include <stddef.h>

#include "core/err.h"
#include "policy/policy.h"

#define TG_POLICY_YAML_MAX_BYTES (1024 * 1024)
#define TG_POLICY_YAML_MAX_NODES 200000
#define TG_POLICY_YAML_MAX_DEPTH 32
#define TG_POLICY_YAML_MAX_SCALAR 65536

enum tg_policy_yaml_flags {
    /* Also run tg_policy_check with no known records: the document must be
     * self-contained (every grant names an agent and a tool it defines). */
    TG_POLICY_YAML_SELF_CONTAINED = 1u << 0,
};

/* Parse and validate. Every record passes its _validate; ids, resources and
 * grant pairs are unique. On failure: TG_ERR_POLICY_INVALID (TG_ERR_NOMEM
 * when memory ran out), `err` (may be NULL) says where and why, the thread's
 * error detail carries the line, and `out` is left empty. On success the
 * caller releases `out` with tg_policy_reset. */
enum tg_err tg_policy_parse_yaml(const char *buf, size_t len, unsigned flags,
                                 struct tg_policy *out,
                                 struct tg_policy_error *err) TG_MUST_CHECK;

#endif
