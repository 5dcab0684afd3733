/* What the C test programs share: CHECK macros that count failures, reading the
 * environment and files, and a text pair. One test program per translation unit. */
#ifndef VLMJUDGE_TEST_CHECK_H
#define VLMJUDGE_TEST_CHECK_H

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vlmjudge.h"

static int failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, \
                    __LINE__, #cond, vlmjudge_last_error_message());                 \
            failures++;                                                              \
        }                                                                            \
    } while (0)

/* A failing call returns `status` and leaves a non-empty message. */
#define CHECK_FAILS(call, status)                                  \
    do {                                                           \
        vlmjudge_status s_ = (call);                               \
        CHECK(s_ == (status));                                     \
        CHECK(strlen(vlmjudge_last_error_message()) > 0);          \
    } while (0)

static inline const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set\n", name);
        exit(2);
    }
    return v;
}

static inline unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static inline vlmjudge_pair text_pair(const char *id, const char *question) {
    vlmjudge_pair p = {id, question, "A cat has four legs.", "A cat has seven legs.", NULL, 0};
    return p;
}

/* A judge for the tests: 384 cells per sequence, `parallel` pairs in flight, one
 * thread (cheap under valgrind). */
static inline vlmjudge_judge *open_judge(vlmjudge_model *model, unsigned parallel) {
    vlmjudge_judge_params jp;
    CHECK(vlmjudge_judge_params_init(&jp, sizeof jp) == VLMJUDGE_OK);
    jp.ctx_per_seq = 384;
    jp.parallel = parallel;
    jp.threads = 1;
    vlmjudge_judge *judge = NULL;
    CHECK(vlmjudge_judge_new(model, &jp, &judge) == VLMJUDGE_OK);
    return judge;
}

#endif
