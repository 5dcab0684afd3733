/* The C ABI's promises for 1.0 under hostile use: params initialised through a sized
 * pointer, a judge cancelled from another thread, model paths that are not UTF-8, and
 * an image buffer over the limit that is refused without being read, and a log
 * callback that calls back into the library. Run by
 * scripts/test-capi.sh like abi_test.c (plain, static, ASan + UBSan, valgrind).
 *
 * Environment: VLMJUDGE_TEST_MODEL, VLMJUDGE_TEST_MMPROJ (the tiny-vlm fixture). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static void test_params_init(void) {
    vlmjudge_model_params mp;
    memset(&mp, 0xAB, sizeof mp);
    CHECK_FAILS(vlmjudge_model_params_init(NULL, sizeof mp), VLMJUDGE_ERR_NULL_ARGUMENT);
    /* A size from another header version: refused and nothing written. */
    CHECK_FAILS(vlmjudge_model_params_init(&mp, sizeof mp - 4), VLMJUDGE_ERR_STRUCT_SIZE);
    CHECK(mp.struct_size == (size_t)0xABABABABABABABABull);
    CHECK(vlmjudge_model_params_init(&mp, sizeof mp) == VLMJUDGE_OK);
    vlmjudge_model_params by_value = vlmjudge_model_default_params();
    CHECK(mp.struct_size == sizeof mp && mp.image_max_tokens == by_value.image_max_tokens);
    CHECK(mp.use_mmap && mp.batch_invariant && mp.lora_path == NULL && mp.lora_scale == 1.0f);
    CHECK(mp.image_cache_entries == by_value.image_cache_entries && mp.threads == 0 && mp.gpu_layers == 0);

    vlmjudge_judge_params jp;
    memset(&jp, 0xCD, sizeof jp);
    CHECK_FAILS(vlmjudge_judge_params_init(NULL, sizeof jp), VLMJUDGE_ERR_NULL_ARGUMENT);
    CHECK_FAILS(vlmjudge_judge_params_init(&jp, sizeof jp + 8), VLMJUDGE_ERR_STRUCT_SIZE);
    CHECK(jp.parallel == 0xCDCDCDCDu);
    CHECK(vlmjudge_judge_params_init(&jp, sizeof jp) == VLMJUDGE_OK);
    vlmjudge_judge_params jd = vlmjudge_judge_default_params();
    CHECK(jp.struct_size == sizeof jp && jp.mode == VLMJUDGE_MODE_FAST && jp.swap);
    CHECK(jp.parallel == jd.parallel && jp.ctx_per_seq == jd.ctx_per_seq && jp.max_tokens == jd.max_tokens);
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) == -1 && errno == EINTR) {
    }
}

typedef struct {
    vlmjudge_judge *judge;
    atomic_int sent;
} canceller;

static void *cancel_from_thread(void *arg) {
    canceller *c = arg;
    CHECK(vlmjudge_judge_cancel(c->judge) == VLMJUDGE_OK);
    atomic_store(&c->sent, 1);
    return NULL;
}

/* Holds the batch inside its first progress report until the other thread has asked
 * to cancel, so the request certainly arrives while the batch runs. */
static int32_t wait_for_cancel(size_t done, size_t total, void *user_data) {
    (void)done;
    (void)total;
    canceller *c = user_data;
    while (!atomic_load(&c->sent)) sleep_ms(1);
    return 1;
}

static void test_cancel(vlmjudge_model *model) {
    CHECK_FAILS(vlmjudge_judge_cancel(NULL), VLMJUDGE_ERR_NULL_ARGUMENT);
    vlmjudge_judge *judge = open_judge(model, 2);
    vlmjudge_pair p = text_pair("c", "How many legs?");
    vlmjudge_verdict *v = (vlmjudge_verdict *)0x2;

    /* A request made between calls stops the next call, and only that one. */
    CHECK(vlmjudge_judge_cancel(judge) == VLMJUDGE_OK);
    CHECK_FAILS(vlmjudge_judge_pair(judge, &p, &v), VLMJUDGE_ERR_CANCELLED);
    CHECK(v == (vlmjudge_verdict *)0x2);
    CHECK(vlmjudge_judge_pair(judge, &p, &v) == VLMJUDGE_OK);
    vlmjudge_verdict_free(v);

    /* From another thread while a batch runs: the batch stops, writing nothing. */
    enum { N = 8 };
    vlmjudge_pair pairs[N];
    vlmjudge_verdict *out[N];
    for (int i = 0; i < N; i++) {
        pairs[i] = text_pair(NULL, "Which is right?");
        out[i] = (vlmjudge_verdict *)0x2;
    }
    canceller c = {judge, 0};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, cancel_from_thread, &c) == 0);
    CHECK_FAILS(vlmjudge_judge_batch(judge, pairs, N, out, wait_for_cancel, &c), VLMJUDGE_ERR_CANCELLED);
    pthread_join(thread, NULL);
    for (int i = 0; i < N; i++) CHECK(out[i] == (vlmjudge_verdict *)0x2);
    /* The request was used up: the judge works again. */
    CHECK(vlmjudge_judge_batch(judge, pairs, 2, out, NULL, NULL) == VLMJUDGE_OK);
    vlmjudge_verdict_free(out[0]);
    vlmjudge_verdict_free(out[1]);
    vlmjudge_judge_free(judge);
}

/* On Unix a path is bytes: a model and mmproj behind names that are not UTF-8 load. */
static void test_byte_paths(const char *model_path, const char *mmproj_path) {
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    char model_link[4200], mmproj_link[4200];
    snprintf(model_link, sizeof model_link, "%s/hardening-\xff\xfe-model.gguf", cwd);
    snprintf(mmproj_link, sizeof mmproj_link, "%s/hardening-\xc3\x28-mmproj.gguf", cwd);
    remove(model_link);
    remove(mmproj_link);
    CHECK(symlink(model_path, model_link) == 0);
    CHECK(symlink(mmproj_path, mmproj_link) == 0);
    vlmjudge_model *model = NULL;
    CHECK(vlmjudge_model_load(model_link, mmproj_link, NULL, &model) == VLMJUDGE_OK);
    CHECK(model != NULL && vlmjudge_model_has_vision(model));
    vlmjudge_model_free(model);
    remove(model_link);
    remove(mmproj_link);
}

/* An image_len over the 100 MiB file limit is the pair's error, found before the
 * buffer is read: the buffer here is 16 bytes, so reading it would trip ASan/valgrind. */
static void test_oversized_image_buffer(vlmjudge_model *model) {
    vlmjudge_judge *judge = open_judge(model, 2);
    unsigned char small[16] = {0x89, 'P', 'N', 'G'};
    vlmjudge_pair pairs[2] = {text_pair("big", "What is shown?"), text_pair("fine", "How many legs?")};
    pairs[0].image = small;
    pairs[0].image_len = (size_t)200 << 20;
    vlmjudge_verdict *out[2] = {0};
    CHECK(vlmjudge_judge_batch(judge, pairs, 2, out, NULL, NULL) == VLMJUDGE_OK);
    CHECK(out[0] && strcmp(vlmjudge_verdict_id(out[0]), "big") == 0);
    CHECK(out[0] && vlmjudge_verdict_error(out[0]) && strstr(vlmjudge_verdict_error(out[0]), "over the limit"));
    CHECK(out[1] && strcmp(vlmjudge_verdict_id(out[1]), "fine") == 0 && vlmjudge_verdict_error(out[1]) == NULL);
    vlmjudge_verdict_free(out[0]);
    vlmjudge_verdict_free(out[1]);
    vlmjudge_verdict *v = NULL;
    CHECK(vlmjudge_judge_pair(judge, &pairs[0], &v) == VLMJUDGE_OK);
    CHECK(v && vlmjudge_verdict_error(v) && strstr(vlmjudge_verdict_error(v), "over the limit"));
    vlmjudge_verdict_free(v);
    vlmjudge_judge_free(judge);
}

/* A log callback that opens a judge while llama.cpp logs from inside the outer
 * vlmjudge_judge_new (which holds the context-creation lock): lines logged under a
 * library lock are delivered after it is released, so this returns instead of
 * waiting for itself. */
static vlmjudge_model *reentry_model;
static atomic_int reentered;
static vlmjudge_status inner_status = -1;

static void reenter_on_log(vlmjudge_log_level level, const char *message, void *user_data) {
    (void)level;
    (void)message;
    (void)user_data;
    if (atomic_exchange(&reentered, 1)) return;
    vlmjudge_judge *inner = NULL;
    inner_status = vlmjudge_judge_new(reentry_model, NULL, &inner);
    vlmjudge_judge_free(inner);
}

static void test_log_callback_reentry(vlmjudge_model *model) {
    reentry_model = model;
    CHECK(vlmjudge_set_log_callback(reenter_on_log, NULL) == VLMJUDGE_OK);
    vlmjudge_judge *outer = NULL;
    CHECK(vlmjudge_judge_new(model, NULL, &outer) == VLMJUDGE_OK);
    CHECK(vlmjudge_set_log_callback(NULL, NULL) == VLMJUDGE_OK);
    CHECK(atomic_load(&reentered) == 1);
    CHECK(inner_status == VLMJUDGE_OK);
    vlmjudge_judge_free(outer);
}

int main(void) {
    const char *model_path = env("VLMJUDGE_TEST_MODEL");
    const char *mmproj_path = env("VLMJUDGE_TEST_MMPROJ");

    test_params_init();
    test_byte_paths(model_path, mmproj_path);
    vlmjudge_model *model = NULL;
    CHECK(vlmjudge_model_load(model_path, mmproj_path, NULL, &model) == VLMJUDGE_OK);
    if (!model) return 1;
    test_cancel(model);
    test_oversized_image_buffer(model);
    test_log_callback_reentry(model);
    vlmjudge_model_free(model);

    if (failures) {
        fprintf(stderr, "hardening_test: %d check(s) failed\n", failures);
        return 1;
    }
    printf("hardening_test: all checks passed\n");
    return 0;
}
