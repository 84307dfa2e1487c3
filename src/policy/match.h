/* The endpoint matcher: which entry of a tool's endpoint table a request
 * (method, path) is. The gateway uses it to find the action and risk of a
 * call before it checks the token's authorization_details. */
#ifndef TG_POLICY_MATCH_H
#define TG_POLICY_MATCH_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "policy/model.h"

#define TG_MATCH_PATH_MAX 8192

/* `path` is the request's path component as received (still
 * percent-encoded; no query, no fragment), relative to the tool's base.
 * Matching is per segment, split on "/" only, so "%2F" never separates:
 *   - a literal segment equals the request segment after percent-encoded
 *     unreserved characters (RFC 3986 §2.3) are decoded; any other
 *     percent-encoding never equals a literal;
 *   - "{name}" and "*" match exactly one non-empty segment;
 *   - the number of segments must be equal; "/" has none.
 * The method is compared case-sensitively (RFC 9110 §9.1); "*" in the table
 * matches any method. When several entries match, the most specific wins: a
 * literal beats a variable at the first segment where they differ, then an
 * exact method beats "*".
 * TG_ERR_INVALID_ARG: the path is not a path (no leading "/", "?" or "#",
 * a byte outside printable ASCII, a bad percent-encoding, or a "." or ".."
 * segment, encoded or not: an upstream would resolve those to another
 * endpoint). TG_ERR_NOT_FOUND: no entry matches. */
enum tg_err tg_endpoint_match(const struct tg_endpoint *table, size_t n, struct tg_slice method,
                              struct tg_slice path,
                              const struct tg_endpoint **out) TG_MUST_CHECK;

/* The entry of an MCP tool's table (method "MCP") that names the MCP tool
 * `name` (params.name of a tools/call). A pattern's "*" matches any run of
 * characters, possibly empty; nothing else is special. The most specific
 * entry wins: an exact name beats any pattern, then the pattern with more
 * literal characters, then the earlier entry. TG_ERR_INVALID_ARG: `name` is
 * not a valid MCP tool name (tg_mcp_tool_name_valid); TG_ERR_NOT_FOUND: no
 * entry names it. Entries of other methods are skipped. */
enum tg_err tg_mcp_tool_match(const struct tg_endpoint *table, size_t n, struct tg_slice name,
                              const struct tg_endpoint **out) TG_MUST_CHECK;

#endif
