#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#include "audit/audit.h"
#include "crypto/crypto.h"

static char dir[] = "/tmp/tg-audit-XXXXXX";
static char path[256];

static int
count_lines(char ***lines_out)
{
    FILE *f = fopen(path, "r");
    char buf[70000];
    char **lines = NULL;
    int n = 0;

    if (f == NULL)
        return -1;
    while (fgets(buf, sizeof(buf), f)) {
        buf[strcspn(buf, "\n")] = '\0';
        lines = realloc(lines, sizeof(*lines) * (size_t)(n + 1));
        lines[n++] = strdup(buf);
    }
    fclose(f);
    *lines_out = lines;
    return n;
}

/* SHA-256 hex of a line (as written, without its newline). */
static void
line_hash(const char *line, char hx[65])
{
    uint8_t md[32];
    int k;

    if (tg_sha256(tg_slice(line, strlen(line)), md) != TG_OK)
        md[0] = 0;
    for (k = 0; k < 32; k++)
        snprintf(hx + 2 * k, 3, "%02x", md[k]);
}

static void
test_chain_and_shape(void)
{
    struct tg_audit *a = NULL;
    struct tg_audit_event ev = {.event = "token.issued", .decision = "allow", .agent_id = "bot",
                                .tenant = "demo", .jti = "j1", .scope = "demo:read", .status = 200};
    char **lines = NULL;
    int n, i;

    CHECK_OK(tg_audit_open(path, &a));
    CHECK_OK(tg_audit_emit(a, &ev));
    ev.event = "token.refused";
    ev.decision = "deny";
    ev.error = "invalid_scope";
    CHECK_OK(tg_audit_emit(a, &ev));
    tg_audit_close(a);
    /* Reopen: the chain continues. */
    CHECK_OK(tg_audit_open(path, &a));
    ev.event = "revoke";
    CHECK_OK(tg_audit_emit(a, &ev));
    ev.event = NULL;
    CHECK_ERR(tg_audit_emit(a, &ev), TG_ERR_INVALID_ARG);
    tg_audit_close(a);

    n = count_lines(&lines);
    CHECK(n == 3);
    for (i = 0; i < n; i++) {
        json_t *o = json_loads(lines[i], 0, NULL);
        char hx[65];

        CHECK(o != NULL);
        if (o == NULL)
            continue;
        CHECK(json_integer_value(json_object_get(o, "seq")) == i + 1);
        CHECK(json_object_get(json_object_get(o, "who"), "agent") != NULL);
        CHECK(json_object_get(json_object_get(o, "why"), "decision") != NULL);
        if (i > 0) {
            line_hash(lines[i - 1], hx);
            CHECK(strcmp(json_string_value(json_object_get(o, "prev")), hx) == 0);
        } else {
            CHECK(strspn(json_string_value(json_object_get(o, "prev")), "0") == 64);
        }
        json_decref(o);
    }
    for (i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* Several threads at once: one line each event, seq without gaps, every
 * prev the hash of the line before it, ts never going back. */
#define WRITERS 4
#define PER_WRITER 300

static void *
writer(void *arg)
{
    struct tg_audit *a = arg;
    struct tg_audit_event ev = {.event = "gateway.allow", .decision = "allow", .agent_id = "bot",
                                .tool = "crm", .jti = "j", .status = 200};
    long i, bad = 0;

    for (i = 0; i < PER_WRITER; i++)
        bad += tg_audit_emit(a, &ev) != TG_OK;
    return (void *)bad;
}

static void
test_concurrent_chain(void)
{
    struct tg_audit *a = NULL;
    pthread_t th[WRITERS];
    char **lines = NULL, prev_ts[64] = "";
    void *bad;
    int n, i, ok = 1;

    unlink(path);
    CHECK_OK(tg_audit_open(path, &a));
    if (a == NULL)
        return;
    for (i = 0; i < WRITERS; i++)
        CHECK(pthread_create(&th[i], NULL, writer, a) == 0);
    for (i = 0; i < WRITERS; i++) {
        CHECK(pthread_join(th[i], &bad) == 0);
        CHECK(bad == NULL);
    }
    tg_audit_close(a);
    n = count_lines(&lines);
    CHECK(n == WRITERS * PER_WRITER);
    for (i = 0; i < n && ok; i++) {
        json_t *o = json_loads(lines[i], 0, NULL);
        char hx[65];
        const char *ts;

        ok = o != NULL && json_integer_value(json_object_get(o, "seq")) == i + 1;
        ts = o != NULL ? json_string_value(json_object_get(o, "ts")) : NULL;
        ok = ok && ts != NULL && strcmp(prev_ts, ts) <= 0 && strlen(ts) < sizeof(prev_ts);
        if (ok)
            strcpy(prev_ts, ts);
        if (ok && i > 0) {
            line_hash(lines[i - 1], hx);
            ok = strcmp(json_string_value(json_object_get(o, "prev")), hx) == 0;
        }
        json_decref(o);
    }
    CHECK(ok);
    for (i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* Lines this many; -1 when the file cannot be read. Every line must be
 * JSON with seq i + 1 and prev the hash of the line before: 0 otherwise. */
static int
valid_chain(void)
{
    char **lines = NULL;
    int n = count_lines(&lines), i, ok = n >= 0;

    for (i = 0; i < n; i++) {
        json_t *o = ok ? json_loads(lines[i], 0, NULL) : NULL;
        char hx[65] = "0000000000000000000000000000000000000000000000000000000000000000";

        ok = ok && o != NULL && json_integer_value(json_object_get(o, "seq")) == i + 1;
        if (ok && i > 0)
            line_hash(lines[i - 1], hx);
        ok = ok && strcmp(json_string_value(json_object_get(o, "prev")), hx) == 0;
        json_decref(o);
    }
    for (i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    return ok ? n : 0;
}

/* Group commit: a deferring thread's lines reach the file at tg_audit_sync
 * (or at close), in one chain with the lines written at once elsewhere. */
static void
test_deferred(void)
{
    struct tg_audit *a = NULL;
    struct tg_audit_event ev = {.event = "check.allow", .decision = "allow", .agent_id = "bot",
                                .tool = "crm", .jti = "j", .status = 200};
    uint64_t m0, m1;
    pthread_t th;
    int i;

    unlink(path);
    CHECK_OK(tg_audit_open(path, &a));
    if (a == NULL)
        return;
    tg_audit_defer_thread(a);
    m0 = tg_audit_mark(a);
    for (i = 0; i < 3; i++)
        CHECK_OK(tg_audit_emit(a, &ev));
    m1 = tg_audit_mark(a);
    CHECK(m1 == m0 + 3);
    CHECK(valid_chain() == 0); /* nothing written yet: the file is empty */
    CHECK(tg_audit_sync(a, m0) == 0);
    CHECK(valid_chain() == 3);
    CHECK(tg_audit_sync(a, m1) == 0); /* nothing waits: a no-op */
    /* Another thread (not deferring) writes at once, after what waits. */
    CHECK_OK(tg_audit_emit(a, &ev));
    CHECK(pthread_create(&th, NULL, writer, a) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(valid_chain() == 4 + PER_WRITER);
    CHECK_OK(tg_audit_emit(a, &ev));
    tg_audit_close(a); /* writes what waits */
    tg_audit_defer_thread(NULL);
    CHECK(valid_chain() == 5 + PER_WRITER);
}

/* A write that fails loses its lines, never half of the chain: the chain
 * goes back to the last line written and continues from it; an immediate
 * write reports the failure, a deferred one through tg_audit_sync, for a
 * mark taken before the lost line only. */
static void
test_write_failure(void)
{
    struct tg_audit *a = NULL;
    struct tg_audit_event ev = {.event = "check.allow", .decision = "allow", .agent_id = "bot",
                                .tool = "crm", .jti = "j", .status = 200};
    struct rlimit old, lim;
    struct stat st;
    uint64_t before, after;

    unlink(path);
    CHECK_OK(tg_audit_open(path, &a));
    if (a == NULL)
        return;
    CHECK_OK(tg_audit_emit(a, &ev));
    CHECK_OK(tg_audit_emit(a, &ev));
    CHECK(stat(path, &st) == 0);
    /* No room past the two lines: write(2) fails with EFBIG. */
    signal(SIGXFSZ, SIG_IGN);
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    lim = old;
    lim.rlim_cur = (rlim_t)st.st_size;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    CHECK_ERR(tg_audit_emit(a, &ev), TG_ERR_IO);
    tg_audit_defer_thread(a);
    before = tg_audit_mark(a);
    CHECK_OK(tg_audit_emit(a, &ev));
    CHECK_OK(tg_audit_emit(a, &ev));
    CHECK(tg_audit_sync(a, before) == -1);
    after = tg_audit_mark(a);
    CHECK(tg_audit_sync(a, after) == 0);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    /* Room again: the chain continues from line 2. */
    CHECK_OK(tg_audit_emit(a, &ev));
    CHECK(tg_audit_sync(a, after) == 0);
    tg_audit_defer_thread(NULL);
    CHECK_OK(tg_audit_emit(a, &ev));
    tg_audit_close(a);
    signal(SIGXFSZ, SIG_DFL);
    CHECK(valid_chain() == 4);
}

static int
line_seq_prev(const char *line, long *seq, char prev[65])
{
    json_t *o = json_loads(line, 0, NULL);
    const char *p = o != NULL ? json_string_value(json_object_get(o, "prev")) : NULL;
    int ok = p != NULL && strlen(p) == 64;

    *seq = o != NULL ? (long)json_integer_value(json_object_get(o, "seq")) : -1;
    if (ok)
        memcpy(prev, p, 65);
    json_decref(o);
    return ok;
}

/* A write that stops inside a line: the whole lines before the cut stay
 * in the chain, the cut line is ended, and the next line follows the last
 * whole one (seq and prev), on a line of its own. */
static void
test_torn_write(void)
{
    struct tg_audit *a = NULL;
    struct tg_audit_event ev = {.event = "check.allow", .decision = "allow", .agent_id = "bot",
                                .tool = "crm", .jti = "j", .status = 200};
    struct rlimit old, lim;
    struct stat st;
    char **lines = NULL, hx[65], prev[65];
    long seq;
    off_t one;
    int n, i;

    unlink(path);
    CHECK_OK(tg_audit_open(path, &a));
    if (a == NULL)
        return;
    CHECK_OK(tg_audit_emit(a, &ev));
    CHECK(stat(path, &st) == 0);
    one = st.st_size; /* every line of this event is as long, give or take a digit */
    signal(SIGXFSZ, SIG_IGN);
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    lim = old;
    /* room for one more whole line and half of the next */
    lim.rlim_cur = (rlim_t)(one + one + one / 2);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    tg_audit_defer_thread(a);
    CHECK_OK(tg_audit_emit(a, &ev)); /* seq 2: written whole */
    CHECK_OK(tg_audit_emit(a, &ev)); /* seq 3: cut */
    CHECK(tg_audit_sync(a, 0) == -1);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK_OK(tg_audit_emit(a, &ev)); /* seq 3 again, after line 2 */
    CHECK(tg_audit_sync(a, tg_audit_mark(a) - 1) == 0);
    tg_audit_defer_thread(NULL);
    tg_audit_close(a);
    signal(SIGXFSZ, SIG_DFL);
    n = count_lines(&lines);
    CHECK(n == 4);
    if (n == 4) {
        CHECK(line_seq_prev(lines[1], &seq, prev) && seq == 2);
        CHECK(json_loads(lines[2], 0, NULL) == NULL); /* the cut line, ended */
        CHECK(line_seq_prev(lines[3], &seq, prev) && seq == 3);
        line_hash(lines[1], hx);
        CHECK(strcmp(prev, hx) == 0);
    }
    for (i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static void
test_unwritable(void)
{
    struct tg_audit *a = NULL;

    CHECK_ERR(tg_audit_open("/nonexistent-dir/audit.log", &a), TG_ERR_IO);
    CHECK(a == NULL);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/audit.log", dir);
    RUN(test_chain_and_shape);
    RUN(test_concurrent_chain);
    RUN(test_deferred);
    RUN(test_write_failure);
    RUN(test_torn_write);
    RUN(test_unwritable);
    unlink(path);
    rmdir(dir);
    return t_report("audit/audit");
}
