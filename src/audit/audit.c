#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/jsonw.h"
#include "core/log.h"
#include "crypto/crypto.h"

#define MAX_LINE 65536

struct tg_audit {
    pthread_mutex_t lock; /* guards fd, seq, prev */
    int fd;
    uint64_t seq;
    char prev[2 * TG_SHA256_LEN + 1];
};

static void
hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Find the last line of an existing log to continue its chain. */
static enum tg_err
resume(struct tg_audit *a)
{
    struct stat st;
    off_t size, start;
    char *buf = NULL;
    ssize_t n;
    char *last, *end;
    uint8_t md[TG_SHA256_LEN];
    json_t *o;
    enum tg_err rv = TG_OK;

    memset(a->prev, '0', 2 * TG_SHA256_LEN);
    a->prev[2 * TG_SHA256_LEN] = '\0';
    TG_CHECK(fstat(a->fd, &st) == 0, TG_ERR_IO, "fstat audit log");
    size = st.st_size;
    if (size == 0)
        goto out;
    start = size > MAX_LINE + 1 ? size - (MAX_LINE + 1) : 0;
    buf = malloc((size_t)(size - start) + 1);
    TG_CHECK(buf != NULL, TG_ERR_NOMEM, "audit resume");
    n = pread(a->fd, buf, (size_t)(size - start), start);
    TG_CHECK(n == size - start, TG_ERR_IO, "read audit log tail");
    buf[n] = '\0';
    end = buf + n;
    TG_CHECK(n > 0 && end[-1] == '\n', TG_ERR_IO, "audit log does not end with a newline");
    end[-1] = '\0';
    last = strrchr(buf, '\n');
    last = last ? last + 1 : buf;
    TG_TRY(tg_sha256(tg_slice(last, strlen(last)), md));
    hex(md, sizeof(md), a->prev);
    o = json_loads(last, 0, NULL);
    TG_CHECK(o != NULL, TG_ERR_IO, "last audit line is not JSON");
    a->seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
    json_decref(o);
out:
    free(buf);
    return rv;
}

enum tg_err
tg_audit_open(const char *path, struct tg_audit **out)
{
    struct tg_audit *a;
    enum tg_err rv;

    *out = NULL;
    a = calloc(1, sizeof(*a));
    TG_ENSURE(a != NULL, TG_ERR_NOMEM, "audit");
    a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        tg_log_warn("audit log %s", path);
        free(a);
        TG_ENSURE(0, TG_ERR_IO, "open audit log");
    }
    rv = resume(a);
    if (rv != TG_OK) {
        close(a->fd);
        free(a);
        return rv;
    }
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return TG_OK;
}

/* One member; a value that is not valid UTF-8 (a raw request parameter)
 * is recorded as such rather than losing the whole event. */
static enum tg_err
member(struct tg_buf *b, int *first, const char *k, const char *v)
{
    size_t mark = b->len;
    enum tg_err rv;

    if (v == NULL)
        return TG_OK;
    rv = tg_jsonw_kv_str(b, *first, k, v);
    if (rv == TG_ERR_INVALID_ARG) {
        b->len = mark;
        rv = tg_jsonw_kv_str(b, *first, k, "<not UTF-8>");
    }
    *first = 0;
    return rv;
}

static enum tg_err
object(struct tg_buf *b, const char *name, const char *const *kv, size_t n)
{
    size_t i;
    int first = 1;

    TG_GUARD(tg_buf_append(b, ",", 1));
    TG_GUARD(tg_jsonw_str(b, name));
    TG_GUARD(tg_buf_append(b, ":{", 2));
    for (i = 0; i + 1 < n; i += 2)
        TG_GUARD(member(b, &first, kv[i], kv[i + 1]));
    return tg_buf_append(b, "}", 1);
}

enum tg_err
tg_audit_emit(struct tg_audit *a, const struct tg_audit_event *ev)
{
    struct tg_buf body, line;
    char ts[96], status[16], *details = NULL;
    struct timespec now;
    struct tm tm;
    uint8_t md[TG_SHA256_LEN];
    ssize_t w;
    int locked = 0, first = 0;
    enum tg_err rv = TG_OK;

    tg_buf_init(&body, MAX_LINE);
    tg_buf_init(&line, MAX_LINE);
    TG_CHECK(ev->event != NULL, TG_ERR_INVALID_ARG, "audit event without a name");
    if (ev->details_json == NULL && ev->details != NULL) {
        details = json_dumps(ev->details, JSON_COMPACT);
        TG_CHECK(details != NULL, TG_ERR_NOMEM, "audit details");
    }
    snprintf(status, sizeof(status), "%d", ev->status);
    /* Everything but "seq", "ts" and "prev" is written before the lock is
     * taken: the lock covers only what orders the chain. */
    {
        const char *who[] = {"agent", ev->agent_id, "agent_type", ev->agent_type, "owner",
                             ev->owner, "tenant", ev->tenant, "auth_method", ev->auth_method,
                             "key_thumbprint", ev->key_thumbprint, "peer", ev->peer, "actor",
                             ev->actor};
        const char *what[] = {"grant_type", ev->grant_type, "resource", ev->resource,
                              "scope", ev->scope, "tool", ev->tool, "action", ev->action,
                              "method", ev->method, "path", ev->path};

        TG_TRY(member(&body, &first, "event", ev->event));
        TG_TRY(member(&body, &first, "jti", ev->jti));
        TG_TRY(object(&body, "who", who, sizeof(who) / sizeof(who[0])));
        TG_TRY(object(&body, "what", what, sizeof(what) / sizeof(what[0])));
        if (ev->details_json != NULL || details != NULL) {
            /* inside "what", as before: reopen the object */
            body.len--; /* drop the closing brace of "what" */
            TG_TRY(tg_jsonw_kv_raw(&body, body.p[body.len - 1] == '{', "details",
                                   ev->details_json ? ev->details_json : details));
            TG_TRY(tg_buf_append(&body, "}", 1));
        }
        TG_TRY(tg_buf_append_str(&body, ",\"why\":{"));
        first = 1;
        TG_TRY(member(&body, &first, "decision", ev->decision));
        TG_TRY(member(&body, &first, "error", ev->error));
        TG_TRY(member(&body, &first, "reason", ev->reason));
        if (ev->status) {
            TG_TRY(tg_jsonw_kv_raw(&body, first, "status", status));
            first = 0;
        }
        TG_TRY(tg_buf_append(&body, "}", 1));
    }

    pthread_mutex_lock(&a->lock);
    locked = 1;
    /* The time is read under the lock, so "ts" never goes back along "seq". */
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             now.tv_nsec / 1000000);
    TG_TRY(tg_buf_append(&line, "{", 1));
    TG_TRY(tg_jsonw_kv_int(&line, 1, "seq", (int64_t)(a->seq + 1)));
    TG_TRY(tg_jsonw_kv_str(&line, 0, "ts", ts));
    TG_TRY(tg_buf_append(&line, body.p, body.len));
    TG_TRY(tg_jsonw_kv_str(&line, 0, "prev", a->prev));
    TG_TRY(tg_buf_append(&line, "}", 1));
    TG_TRY(tg_sha256(tg_slice(line.p, line.len), md));
    TG_TRY(tg_buf_append(&line, "\n", 1));
    /* One write with O_APPEND: a line is never interleaved or split. */
    w = write(a->fd, line.p, line.len);
    TG_CHECK(w == (ssize_t)line.len, TG_ERR_IO, "audit write: %s", strerror(errno));
    a->seq++;
    hex(md, sizeof(md), a->prev);
out:
    if (locked)
        pthread_mutex_unlock(&a->lock);
    if (rv != TG_OK)
        tg_log_warnx("audit: cannot record %s: %s", ev->event ? ev->event : "?", tg_err_detail());
    free(details);
    tg_buf_reset(&body);
    tg_buf_reset(&line);
    return rv;
}

void
tg_audit_close(struct tg_audit *a)
{
    if (a == NULL)
        return;
    fsync(a->fd);
    close(a->fd);
    pthread_mutex_destroy(&a->lock);
    free(a);
}
