#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
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
/* Lines waiting for a deferring thread's tg_audit_sync are written at once
 * past this much (a turn of many decisions does not grow without bound). */
#define PENDING_FLUSH 65536
#define PENDING_CAP (PENDING_FLUSH + 2 * MAX_LINE)
#define HASH_HEX (2 * TG_SHA256_LEN)

struct tg_audit {
    pthread_mutex_t lock; /* guards everything below but the atomics' loads */
    int fd;
    /* The chain as formatted (pending lines included) ... */
    uint64_t seq;
    char prev[HASH_HEX + 1];
    /* ... and as written: what a failed write rolls back to. */
    uint64_t w_seq;
    char w_prev[HASH_HEX + 1];
    struct tg_buf pending; /* whole lines, formatted, not yet written */
    int torn;              /* a write stopped inside a line: end it first */
    /* "ts": the part up to the seconds, made once a second */
    time_t ts_sec;
    char ts_head[64];
    /* Lines are numbered (ids, from 1) in the order they are formatted;
     * unlike seq, an id is never reused. */
    _Atomic uint64_t appended; /* the last id formatted */
    _Atomic uint64_t resolved; /* every id up to here written, or lost */
    _Atomic uint64_t lost;     /* the last id a failed write lost, 0 if none */
};

/* The log this thread defers its lines for (tg_audit_defer_thread). */
static _Thread_local const struct tg_audit *tl_defer;

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

    memset(a->prev, '0', HASH_HEX);
    a->prev[HASH_HEX] = '\0';
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
    a->w_seq = a->seq;
    memcpy(a->w_prev, a->prev, sizeof(a->prev));
    tg_buf_init(&a->pending, PENDING_CAP);
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

/* The event's members after "ts" and before "prev". */
static enum tg_err
event_body(struct tg_buf *b, const struct tg_audit_event *ev, const char *details)
{
    const char *who[] = {"agent", ev->agent_id, "agent_type", ev->agent_type, "owner",
                         ev->owner, "tenant", ev->tenant, "auth_method", ev->auth_method,
                         "key_thumbprint", ev->key_thumbprint, "peer", ev->peer, "actor",
                         ev->actor};
    const char *what[] = {"grant_type", ev->grant_type, "resource", ev->resource,
                          "scope", ev->scope, "tool", ev->tool, "action", ev->action,
                          "method", ev->method, "path", ev->path};
    int first = 0;

    TG_GUARD(member(b, &first, "event", ev->event));
    TG_GUARD(member(b, &first, "jti", ev->jti));
    TG_GUARD(object(b, "who", who, sizeof(who) / sizeof(who[0])));
    TG_GUARD(object(b, "what", what, sizeof(what) / sizeof(what[0])));
    if (details != NULL) {
        /* inside "what": reopen the object */
        b->len--; /* drop the closing brace of "what" */
        TG_GUARD(tg_jsonw_kv_raw(b, b->p[b->len - 1] == '{', "details", details));
        TG_GUARD(tg_buf_append(b, "}", 1));
    }
    TG_GUARD(tg_buf_append_str(b, ",\"why\":{"));
    first = 1;
    TG_GUARD(member(b, &first, "decision", ev->decision));
    TG_GUARD(member(b, &first, "error", ev->error));
    TG_GUARD(member(b, &first, "reason", ev->reason));
    if (ev->status)
        TG_GUARD(tg_jsonw_kv_int(b, first, "status", ev->status));
    return tg_buf_append(b, "}", 1);
}

/* "2026-11-29T14:32:59.104Z", read under the lock so that "ts" never goes
 * back along "seq"; the part up to the seconds is made once a second. */
static void
timestamp(struct tg_audit *a, char out[96])
{
    struct timespec now;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec != a->ts_sec || a->ts_head[0] == '\0') {
        gmtime_r(&now.tv_sec, &tm);
        snprintf(a->ts_head, sizeof(a->ts_head), "%04d-%02d-%02dT%02d:%02d:%02d",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        a->ts_sec = now.tv_sec;
    }
    snprintf(out, 96, "%s.%03dZ", a->ts_head, (int)(now.tv_nsec / 1000000));
}

/* A write stopped after `off` bytes of the pending lines: the whole lines
 * among them are in the file, so the chain continues from the last of
 * them; a line cut short is ended before the next write. */
static void
keep_written(struct tg_audit *a, size_t off)
{
    const uint8_t *p = a->pending.p;
    size_t end = off, start, i;
    uint8_t md[TG_SHA256_LEN];

    if (p[off - 1] != '\n')
        a->torn = 1;
    while (end > 0 && p[end - 1] != '\n')
        end--;
    if (end == 0)
        return;
    start = end - 1;
    while (start > 0 && p[start - 1] != '\n')
        start--;
    if (tg_sha256(tg_slice(p + start, end - 1 - start), md) != TG_OK)
        return; /* (cannot fail for a buffer in memory) */
    for (i = 0; i < end; i++)
        a->w_seq += p[i] == '\n';
    hex(md, sizeof(md), a->w_prev);
}

/* Writes the pending lines, under the lock: one write(2) on the O_APPEND
 * descriptor, so lines are never interleaved or split between threads. On
 * failure the lines are lost (never retried: an answer that depended on
 * one has been refused, tg_audit_sync) and the chain goes back to the last
 * line written, so the file stays a valid chain. */
static enum tg_err
write_pending(struct tg_audit *a)
{
    size_t off = 0, len = a->pending.len;
    uint64_t last = atomic_load_explicit(&a->appended, memory_order_relaxed);
    enum tg_err rv = TG_OK;

    /* After a write that stopped half-way, end the torn line first, so
     * the next line is not glued to it. */
    while (a->torn && rv == TG_OK) {
        ssize_t w = write(a->fd, "\n", 1);

        if (w == 1)
            a->torn = 0;
        else if (!(w < 0 && errno == EINTR))
            TG_FAIL(TG_ERR_IO, "audit write: %s", w < 0 ? strerror(errno) : "no progress");
    }
    while (rv == TG_OK && off < len) {
        ssize_t w = write(a->fd, a->pending.p + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            tg_err_raise(TG_ERR_IO, "audit write: %s", w < 0 ? strerror(errno) : "no progress");
            rv = TG_ERR_IO;
            break;
        }
        off += (size_t)w;
    }
out:
    if (rv == TG_OK) {
        a->w_seq = a->seq;
        memcpy(a->w_prev, a->prev, sizeof(a->prev));
    } else {
        if (off > 0)
            keep_written(a, off);
        tg_log_warnx("audit: %zu bytes of lines up to seq %" PRIu64 " not written%s: %s", len,
                     a->seq, a->torn ? " (the last line written is torn)" : "",
                     tg_err_detail());
        a->seq = a->w_seq;
        memcpy(a->prev, a->w_prev, sizeof(a->prev));
        atomic_store_explicit(&a->lost, last, memory_order_relaxed);
    }
    a->pending.len = 0;
    /* Release: whoever sees `resolved` cover an id also sees `lost`. */
    atomic_store_explicit(&a->resolved, last, memory_order_release);
    return rv;
}

enum tg_err
tg_audit_emit(struct tg_audit *a, const struct tg_audit_event *ev)
{
    struct tg_buf *b = &a->pending;
    char ts[96], *details = NULL;
    const char *dj;
    uint8_t md[TG_SHA256_LEN];
    size_t start = 0;
    uint64_t id;
    int locked = 0;
    enum tg_err rv = TG_OK;

    TG_CHECK(ev->event != NULL, TG_ERR_INVALID_ARG, "audit event without a name");
    if (ev->details_json == NULL && ev->details != NULL) {
        details = json_dumps(ev->details, JSON_COMPACT);
        TG_CHECK(details != NULL, TG_ERR_NOMEM, "audit details");
    }
    dj = ev->details_json != NULL ? ev->details_json : details;

    pthread_mutex_lock(&a->lock);
    locked = 1;
    start = b->len;
    timestamp(a, ts);
    TG_TRY(tg_buf_append(b, "{", 1));
    TG_TRY(tg_jsonw_kv_int(b, 1, "seq", (int64_t)(a->seq + 1)));
    TG_TRY(tg_jsonw_kv_str(b, 0, "ts", ts));
    TG_TRY(event_body(b, ev, dj));
    TG_TRY(tg_jsonw_kv_str(b, 0, "prev", a->prev));
    TG_TRY(tg_buf_append(b, "}", 1));
    TG_CHECK(b->len - start <= MAX_LINE, TG_ERR_TOO_LARGE, "audit line of %zu bytes",
             b->len - start);
    TG_TRY(tg_sha256(tg_slice(b->p + start, b->len - start), md));
    TG_TRY(tg_buf_append(b, "\n", 1));
    a->seq++;
    hex(md, sizeof(md), a->prev);
    id = atomic_load_explicit(&a->appended, memory_order_relaxed) + 1;
    atomic_store_explicit(&a->appended, id, memory_order_release);
    /* A deferring thread's line waits for its tg_audit_sync (group commit);
     * any other writes now, with whatever waits before it. */
    if (tl_defer != a || b->len >= PENDING_FLUSH)
        rv = write_pending(a);
out:
    if (locked) {
        if (rv != TG_OK && start < b->len)
            b->len = start; /* a line that failed to format is not kept half-made */
        pthread_mutex_unlock(&a->lock);
    }
    if (rv != TG_OK)
        tg_log_warnx("audit: cannot record %s: %s", ev->event ? ev->event : "?", tg_err_detail());
    free(details);
    return rv;
}

void
tg_audit_defer_thread(const struct tg_audit *a)
{
    tl_defer = a;
}

uint64_t
tg_audit_mark(struct tg_audit *a)
{
    return a != NULL ? atomic_load_explicit(&a->appended, memory_order_acquire) : 0;
}

int
tg_audit_sync(struct tg_audit *a, uint64_t since)
{
    uint64_t resolved;

    if (a == NULL)
        return 0;
    resolved = atomic_load_explicit(&a->resolved, memory_order_acquire);
    if (resolved != atomic_load_explicit(&a->appended, memory_order_acquire)) {
        pthread_mutex_lock(&a->lock);
        if (a->pending.len > 0)
            (void)write_pending(a); /* a failure is told below, through `lost` */
        pthread_mutex_unlock(&a->lock);
    }
    return atomic_load_explicit(&a->lost, memory_order_acquire) > since ? -1 : 0;
}

void
tg_audit_close(struct tg_audit *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    if (a->pending.len > 0)
        (void)write_pending(a);
    pthread_mutex_unlock(&a->lock);
    fsync(a->fd);
    close(a->fd);
    tg_buf_reset(&a->pending);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

static void
barrier_thread_start(void *arg)
{
    tg_audit_defer_thread(arg);
}

static uint64_t
barrier_mark(void *arg)
{
    return tg_audit_mark(arg);
}

static int
barrier_sync(void *arg, uint64_t since)
{
    return tg_audit_sync(arg, since);
}

void
tg_audit_http_barrier(struct tg_audit *a, struct tg_http_barrier *out)
{
    memset(out, 0, sizeof(*out));
    if (a == NULL)
        return;
    out->thread_start = barrier_thread_start;
    out->mark = barrier_mark;
    out->sync = barrier_sync;
    out->arg = a;
}
