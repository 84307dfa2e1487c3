/* The in-house test runner. Each test binary runs its tests and prints
 * "<suite>: N passed, N failed"; exit status is non-zero on any failure.
 * A test fails when any CHECK in it fails. */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static int t_passed, t_failed, t_cur_failed;
static const char *t_cur_name;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  FAIL %s (%s:%d): %s\n", t_cur_name, __FILE__, __LINE__, \
                    #cond);                                                           \
            t_cur_failed = 1;                                                         \
        }                                                                             \
    } while (0)

/* Assert an exact error code, and print both names when it differs. */
#define CHECK_ERR(expr, want)                                                         \
    do {                                                                              \
        enum tg_err t_got_ = (expr), t_want_ = (want);                                \
        if (t_got_ != t_want_) {                                                      \
            fprintf(stderr, "  FAIL %s (%s:%d): %s -> %s, want %s [%s]\n", t_cur_name,  \
                    __FILE__, __LINE__, #expr, tg_err_name(t_got_), tg_err_name(t_want_), \
                    tg_err_detail());                                                 \
            t_cur_failed = 1;                                                         \
        }                                                                             \
    } while (0)

#define CHECK_OK(expr) CHECK_ERR((expr), TG_OK)

#define RUN(fn)                                                                       \
    do {                                                                              \
        t_cur_name = #fn;                                                             \
        t_cur_failed = 0;                                                             \
        fn();                                                                         \
        if (t_cur_failed)                                                             \
            t_failed++;                                                               \
        else                                                                          \
            t_passed++;                                                               \
    } while (0)

static inline int
t_report(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, t_passed, t_failed);
    return t_failed ? 1 : 0;
}

/* Read a file under TG_SOURCE_DIR (set by CMake) into a NUL-terminated buffer. */
static inline char *
t_read_source_file(const char *rel, size_t *len)
{
    char path[1024];
    FILE *f;
    long n;
    char *buf;

    snprintf(path, sizeof(path), "%s/%s", TG_SOURCE_DIR, rel);
    f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        if (len != NULL)
            *len = (size_t)n;
    }
    return buf;
}

#endif
