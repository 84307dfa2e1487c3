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

static int
set_str(json_t *o, const char *k, const char *v)
{
    return v == NULL ? 0 : json_object_set_new(o, k, json_string(v));
}

enum tg_err
tg_audit_emit(struct tg_audit *a, const struct tg_audit_event *ev)
{
    json_t *o = NULL, *who = NULL, *what = NULL, *why = NULL;
    char *line = NULL, ts[96];
    struct timespec now;
    struct tm tm;
    uint8_t md[TG_SHA256_LEN];
    size_t len;
    ssize_t w;
    int locked = 0;
    enum tg_err rv = TG_OK;

    TG_CHECK(ev->event != NULL, TG_ERR_INVALID_ARG, "audit event without a name");
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             now.tv_nsec / 1000000);
    o = json_object();
    who = json_object();
    what = json_object();
    why = json_object();
    TG_CHECK(o && who && what && why, TG_ERR_NOMEM, "audit json");
    set_str(who, "agent", ev->agent_id);
    set_str(who, "agent_type", ev->agent_type);
    set_str(who, "owner", ev->owner);
    set_str(who, "tenant", ev->tenant);
    set_str(who, "auth_method", ev->auth_method);
    set_str(who, "key_thumbprint", ev->key_thumbprint);
    set_str(who, "peer", ev->peer);
    set_str(who, "actor", ev->actor);
    set_str(what, "grant_type", ev->grant_type);
    set_str(what, "resource", ev->resource);
    set_str(what, "scope", ev->scope);
    set_str(what, "tool", ev->tool);
    set_str(what, "action", ev->action);
    set_str(what, "method", ev->method);
    set_str(what, "path", ev->path);
    set_str(why, "decision", ev->decision);
    set_str(why, "error", ev->error);
    set_str(why, "reason", ev->reason);
    if (ev->status)
        json_object_set_new(why, "status", json_integer(ev->status));
    if (ev->details)
        json_object_set(what, "details", (json_t *)ev->details);

    pthread_mutex_lock(&a->lock);
    locked = 1;
    json_object_set_new(o, "seq", json_integer((json_int_t)(a->seq + 1)));
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "event", json_string(ev->event));
    set_str(o, "jti", ev->jti);
    json_object_set(o, "who", who);
    json_object_set(o, "what", what);
    json_object_set(o, "why", why);
    json_object_set_new(o, "prev", json_string(a->prev));
    line = json_dumps(o, JSON_COMPACT);
    TG_CHECK(line != NULL, TG_ERR_NOMEM, "audit dump");
    len = strlen(line);
    TG_CHECK(len < MAX_LINE, TG_ERR_TOO_LARGE, "audit line too long");
    TG_TRY(tg_sha256(tg_slice(line, len), md));
    line[len] = '\n';
    /* One write with O_APPEND: a line is never interleaved or split. */
    w = write(a->fd, line, len + 1);
    line[len] = '\0';
    TG_CHECK(w == (ssize_t)(len + 1), TG_ERR_IO, "audit write: %s", strerror(errno));
    a->seq++;
    hex(md, sizeof(md), a->prev);
out:
    if (locked)
        pthread_mutex_unlock(&a->lock);
    if (rv != TG_OK)
        tg_log_warnx("audit: cannot record %s: %s", ev->event ? ev->event : "?", tg_err_detail());
    free(line);
    json_decref(who);
    json_decref(what);
    json_decref(why);
    json_decref(o);
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
