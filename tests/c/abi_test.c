/* The C ABI from C: statuses, NULL and bad input at every entry, judging text and
 * image pairs, batches, cancellation, threads sharing a model, the log callback and
 * the panic boundary. Run by scripts/test-capi.sh plainly, under ASan + UBSan and
 * under valgrind.
 *
 * Environment: VLMJUDGE_TEST_MODEL, VLMJUDGE_TEST_MMPROJ (the generated tiny-vlm
 * fixture: cheap enough for valgrind), VLMJUDGE_TEST_IMAGE (a PNG file). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The panic boundary's test entry point (a library built with `test-hooks`). */
#define VLMJUDGE_TEST_HOOKS
#include "check.h"

static void test_version_and_statuses(void) {
    CHECK(strcmp(vlmjudge_version(), VLMJUDGE_VERSION) == 0);
    CHECK(strcmp(vlmjudge_status_str(VLMJUDGE_OK), "ok") == 0);
    CHECK(strcmp(vlmjudge_status_str(VLMJUDGE_ERR_STRUCT_SIZE), "struct_size mismatch") == 0);
    CHECK(strcmp(vlmjudge_status_str(12345), "unknown status") == 0);
}

static void test_null_arguments(const char *model_path) {
    vlmjudge_model *model = (vlmjudge_model *)0x1;
    CHECK_FAILS(vlmjudge_model_load(NULL, NULL, NULL, &model), VLMJUDGE_ERR_NULL_ARGUMENT);
    CHECK(model == (vlmjudge_model *)0x1); /* outputs only on success */
    CHECK_FAILS(vlmjudge_model_load(model_path, NULL, NULL, NULL), VLMJUDGE_ERR_NULL_ARGUMENT);
    vlmjudge_judge *judge = NULL;
    CHECK_FAILS(vlmjudge_judge_new(NULL, NULL, &judge), VLMJUDGE_ERR_NULL_ARGUMENT);
    CHECK(judge == NULL);
    vlmjudge_verdict *v = NULL;
    vlmjudge_pair p = text_pair("x", "q?");
    CHECK_FAILS(vlmjudge_judge_pair(NULL, &p, &v), VLMJUDGE_ERR_NULL_ARGUMENT);
    CHECK_FAILS(vlmjudge_judge_batch(NULL, &p, 1, &v, NULL, NULL), VLMJUDGE_ERR_NULL_ARGUMENT);
    /* Accessors and frees take NULL. */
    CHECK(vlmjudge_verdict_choice(NULL) == VLMJUDGE_CHOICE_NONE);
    CHECK(isnan(vlmjudge_verdict_p_a(NULL)));
    CHECK(vlmjudge_verdict_consistent(NULL) == -1);
    CHECK(vlmjudge_verdict_error(NULL) == NULL);
    CHECK(vlmjudge_verdict_reasoning(NULL, 0) == NULL);
    CHECK(strcmp(vlmjudge_verdict_id(NULL), "") == 0);
    CHECK(!vlmjudge_model_has_vision(NULL));
    vlmjudge_verdict_free(NULL);
    vlmjudge_judge_free(NULL);
    vlmjudge_model_free(NULL);
}

static void test_bad_files(void) {
    vlmjudge_model *model = NULL;
    CHECK_FAILS(vlmjudge_model_load("/nonexistent/model.gguf", NULL, NULL, &model), VLMJUDGE_ERR_IO);
    CHECK(strstr(vlmjudge_last_error_message(), "/nonexistent/model.gguf") != NULL);
    const char *not_gguf = "abi_test_not_gguf.bin";
    FILE *f = fopen(not_gguf, "wb");
    fputs("definitely not a model", f);
    fclose(f);
    CHECK_FAILS(vlmjudge_model_load(not_gguf, NULL, NULL, &model), VLMJUDGE_ERR_INVALID_GGUF);
    remove(not_gguf);
    CHECK(model == NULL);
}

static void test_struct_size(const char *model_path, vlmjudge_model *model) {
    vlmjudge_model_params mp = vlmjudge_model_default_params();
    mp.struct_size = sizeof(mp) - 8;
    vlmjudge_model *m = NULL;
    CHECK_FAILS(vlmjudge_model_load(model_path, NULL, &mp, &m), VLMJUDGE_ERR_STRUCT_SIZE);
    vlmjudge_judge_params jp = vlmjudge_judge_default_params();
    jp.struct_size = 3;
    vlmjudge_judge *j = NULL;
    CHECK_FAILS(vlmjudge_judge_new(model, &jp, &j), VLMJUDGE_ERR_STRUCT_SIZE);
    /* A LoRA path that is not an adapter is refused with its own status. */
    mp = vlmjudge_model_default_params();
    CHECK(mp.lora_path == NULL && mp.lora_scale == 1.0f);
    mp.lora_path = model_path;
    CHECK_FAILS(vlmjudge_model_load(model_path, NULL, &mp, &m), VLMJUDGE_ERR_INVALID_GGUF);
    CHECK(strstr(vlmjudge_last_error_message(), "not a LoRA adapter") != NULL);
    jp = vlmjudge_judge_default_params();
    jp.mode = 7;
    CHECK_FAILS(vlmjudge_judge_new(model, &jp, &j), VLMJUDGE_ERR_INVALID_ARGUMENT);
    CHECK(j == NULL);
    /* The image budget has a checked range (0 = the mmproj's own limit). */
    mp = vlmjudge_model_default_params();
    CHECK(mp.image_max_tokens == 512);
    mp.image_max_tokens = 15;
    CHECK_FAILS(vlmjudge_model_load(model_path, NULL, &mp, &m), VLMJUDGE_ERR_INVALID_ARGUMENT);
    CHECK(strstr(vlmjudge_last_error_message(), "image_max_tokens") != NULL);
    mp.image_max_tokens = UINT32_MAX;
    CHECK_FAILS(vlmjudge_model_load(model_path, NULL, &mp, &m), VLMJUDGE_ERR_INVALID_ARGUMENT);
    CHECK(m == NULL);
    /* A cache as large as the host asks for would be reserved up front: refused. */
    mp = vlmjudge_model_default_params();
    mp.image_cache_entries = UINT32_MAX;
    CHECK_FAILS(vlmjudge_model_load(model_path, NULL, &mp, &m), VLMJUDGE_ERR_INVALID_ARGUMENT);
    CHECK(strstr(vlmjudge_last_error_message(), "image_cache_entries") != NULL);
    /* So would a context of 2^27 cells per sequence. */
    jp = vlmjudge_judge_default_params();
    jp.ctx_per_seq = 1u << 27;
    CHECK_FAILS(vlmjudge_judge_new(model, &jp, &j), VLMJUDGE_ERR_INVALID_ARGUMENT);
    CHECK(strstr(vlmjudge_last_error_message(), "ctx_per_seq") != NULL);
    CHECK(j == NULL);
}

static void test_pairs(vlmjudge_model *model, const char *image_path) {
    vlmjudge_judge *judge = open_judge(model, 4);
    vlmjudge_verdict *v = NULL;

    vlmjudge_pair p = text_pair("text", "How many legs does a cat have?");
    CHECK(vlmjudge_judge_pair(judge, &p, &v) == VLMJUDGE_OK);
    CHECK(vlmjudge_verdict_error(v) == NULL);
    double pa = vlmjudge_verdict_p_a(v);
    CHECK(pa >= 0.0 && pa <= 1.0);
    CHECK(vlmjudge_verdict_choice(v) != VLMJUDGE_CHOICE_NONE);
    CHECK(vlmjudge_verdict_consistent(v) == 0 || vlmjudge_verdict_consistent(v) == 1);
    CHECK(strcmp(vlmjudge_verdict_id(v), "text") == 0);
    CHECK(strstr(vlmjudge_verdict_json(v), "\"p_a\"") != NULL);
    CHECK(vlmjudge_verdict_n_orders(v) == 2);
    CHECK(vlmjudge_verdict_order_p_a(v, 0) >= 0.0 && vlmjudge_verdict_order_p_a(v, 1) <= 1.0);
    CHECK(fabs((vlmjudge_verdict_order_p_a(v, 0) + vlmjudge_verdict_order_p_a(v, 1)) / 2 - pa) < 1e-12);
    CHECK(isnan(vlmjudge_verdict_order_p_a(v, 2)));
    CHECK(vlmjudge_verdict_order_choice(v, 2) == VLMJUDGE_CHOICE_NONE);
    CHECK(vlmjudge_verdict_reasoning(v, 0) == NULL); /* fast mode */
    vlmjudge_verdict_free(v);

    /* Invalid UTF-8 is its own status. */
    vlmjudge_pair bad = text_pair("utf8", "caf\xc3\x28?");
    v = (vlmjudge_verdict *)0x1;
    CHECK_FAILS(vlmjudge_judge_pair(judge, &bad, &v), VLMJUDGE_ERR_INVALID_UTF8);
    CHECK(v == (vlmjudge_verdict *)0x1);
    vlmjudge_pair null_text = text_pair("null", NULL);
    CHECK_FAILS(vlmjudge_judge_pair(judge, &null_text, &v), VLMJUDGE_ERR_NULL_ARGUMENT);
    CHECK_FAILS(vlmjudge_judge_pair(judge, NULL, &v), VLMJUDGE_ERR_NULL_ARGUMENT);
    CHECK_FAILS(vlmjudge_judge_pair(judge, &p, NULL), VLMJUDGE_ERR_NULL_ARGUMENT);

    /* Images: undecodable bytes fail on the verdict only; a real PNG is judged. */
    static const unsigned char garbage[] = "GIF89? not really";
    vlmjudge_pair img = text_pair("garbage", "What is in the image?");
    img.image = garbage;
    img.image_len = sizeof garbage;
    v = NULL;
    CHECK(vlmjudge_judge_pair(judge, &img, &v) == VLMJUDGE_OK);
    CHECK(vlmjudge_verdict_error(v) != NULL && strstr(vlmjudge_verdict_error(v), "image") != NULL);
    CHECK(vlmjudge_verdict_choice(v) == VLMJUDGE_CHOICE_NONE && isnan(vlmjudge_verdict_p_a(v)));
    vlmjudge_verdict_free(v);
    size_t len = 0;
    unsigned char *png = read_file(image_path, &len);
    CHECK(png != NULL);
    img.id = "png";
    img.image = png;
    img.image_len = len;
    CHECK(vlmjudge_judge_pair(judge, &img, &v) == VLMJUDGE_OK);
    CHECK(vlmjudge_verdict_error(v) == NULL);
    vlmjudge_verdict_free(v);
    img.image = NULL; /* NULL bytes with a length is an error */
    CHECK_FAILS(vlmjudge_judge_pair(judge, &img, &v), VLMJUDGE_ERR_NULL_ARGUMENT);
    free(png);
    vlmjudge_judge_free(judge);
}

static int32_t stop_after_two(size_t done, size_t total, void *user_data) {
    (void)total;
    *(size_t *)user_data = done;
    return done < 2;
}

static void test_batch_and_cancel(vlmjudge_model *model) {
    vlmjudge_judge *judge = open_judge(model, 3);
    vlmjudge_pair pairs[6];
    char ids[6][16];
    for (int i = 0; i < 6; i++) {
        snprintf(ids[i], sizeof ids[i], "b%d", i % 10);
        pairs[i] = text_pair(ids[i], i % 2 ? "Which is right?" : "How many legs?");
    }
    pairs[4].response_b = ""; /* a bad pair reports on its verdict */
    vlmjudge_verdict *out[6] = {0};
    CHECK(vlmjudge_judge_batch(judge, pairs, 6, out, NULL, NULL) == VLMJUDGE_OK);
    for (int i = 0; i < 6; i++) {
        CHECK(out[i] != NULL && strcmp(vlmjudge_verdict_id(out[i]), ids[i]) == 0);
        CHECK((vlmjudge_verdict_error(out[i]) != NULL) == (i == 4));
        vlmjudge_verdict_free(out[i]);
    }
    CHECK_FAILS(vlmjudge_judge_batch(judge, NULL, 6, out, NULL, NULL), VLMJUDGE_ERR_NULL_ARGUMENT);
    CHECK_FAILS(vlmjudge_judge_batch(judge, pairs, 6, NULL, NULL, NULL), VLMJUDGE_ERR_NULL_ARGUMENT);
    CHECK(vlmjudge_judge_batch(judge, NULL, 0, NULL, NULL, NULL) == VLMJUDGE_OK);

    /* Cancelling: the callback's false stops the batch and nothing is written. */
    vlmjudge_verdict *sentinel = (vlmjudge_verdict *)0x2;
    for (int i = 0; i < 6; i++) out[i] = sentinel;
    size_t seen = 0;
    CHECK_FAILS(vlmjudge_judge_batch(judge, pairs, 6, out, stop_after_two, &seen), VLMJUDGE_ERR_CANCELLED);
    CHECK(seen == 2);
    for (int i = 0; i < 6; i++) CHECK(out[i] == sentinel);
    /* The judge is still usable after a cancelled batch. */
    CHECK(vlmjudge_judge_batch(judge, pairs, 2, out, NULL, NULL) == VLMJUDGE_OK);
    vlmjudge_verdict_free(out[0]);
    vlmjudge_verdict_free(out[1]);
    vlmjudge_judge_free(judge);
}

#define THREADS 4
#define PAIRS_PER_THREAD 25

typedef struct {
    vlmjudge_model *model;
    vlmjudge_pair *pairs;
    double p_a[PAIRS_PER_THREAD];
    vlmjudge_status status;
} worker;

static void judge_all(vlmjudge_model *model, vlmjudge_pair *pairs, double *p_a, vlmjudge_status *status) {
    vlmjudge_judge *judge = open_judge(model, 5);
    vlmjudge_verdict *out[PAIRS_PER_THREAD];
    *status = vlmjudge_judge_batch(judge, pairs, PAIRS_PER_THREAD, out, NULL, NULL);
    if (*status == VLMJUDGE_OK) {
        for (int i = 0; i < PAIRS_PER_THREAD; i++) {
            p_a[i] = vlmjudge_verdict_p_a(out[i]);
            vlmjudge_verdict_free(out[i]);
        }
    }
    vlmjudge_judge_free(judge);
}

static void *run_worker(void *arg) {
    worker *w = arg;
    judge_all(w->model, w->pairs, w->p_a, &w->status);
    return NULL;
}

static void test_threads_share_a_model(vlmjudge_model *model) {
    static char questions[PAIRS_PER_THREAD][96];
    vlmjudge_pair pairs[PAIRS_PER_THREAD];
    for (int i = 0; i < PAIRS_PER_THREAD; i++) {
        snprintf(questions[i], sizeof questions[i], "Question %d: how many legs does item %d have?", i, i * 7);
        pairs[i] = text_pair(NULL, questions[i]);
    }
    double expected[PAIRS_PER_THREAD];
    vlmjudge_status status;
    judge_all(model, pairs, expected, &status);
    CHECK(status == VLMJUDGE_OK);
    pthread_t threads[THREADS];
    worker workers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t].model = model;
        workers[t].pairs = pairs;
        pthread_create(&threads[t], NULL, run_worker, &workers[t]);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        CHECK(workers[t].status == VLMJUDGE_OK);
        for (int i = 0; i < PAIRS_PER_THREAD; i++) CHECK(workers[t].p_a[i] == expected[i]);
    }
}

static int log_lines = 0;
static void count_log(vlmjudge_log_level level, const char *message, void *user_data) {
    (void)level;
    (void)user_data;
    if (message) log_lines++;
}

static void test_log_callback_and_model_lifetime(const char *model_path, const char *mmproj_path) {
    CHECK(vlmjudge_set_log_callback(count_log, NULL) == VLMJUDGE_OK);
    vlmjudge_model *model = NULL;
    CHECK(vlmjudge_model_load(model_path, mmproj_path, NULL, &model) == VLMJUDGE_OK);
    CHECK(log_lines > 0);
    CHECK(vlmjudge_set_log_callback(NULL, NULL) == VLMJUDGE_OK);
    CHECK(vlmjudge_model_has_vision(model));
    /* A judge keeps its model alive after the model handle is freed. */
    vlmjudge_judge *judge = open_judge(model, 1);
    vlmjudge_model_free(model);
    vlmjudge_pair p = text_pair("late", "Still there?");
    vlmjudge_verdict *v = NULL;
    CHECK(vlmjudge_judge_pair(judge, &p, &v) == VLMJUDGE_OK);
    vlmjudge_verdict_free(v);
    vlmjudge_judge_free(judge);
}

static void test_panic_boundary(void) {
    CHECK_FAILS(vlmjudge_test_panic(), VLMJUDGE_ERR_PANIC);
    CHECK(strstr(vlmjudge_last_error_message(), "panic") != NULL);
}

int main(void) {
    const char *model_path = env("VLMJUDGE_TEST_MODEL");
    const char *mmproj_path = env("VLMJUDGE_TEST_MMPROJ");
    const char *image_path = env("VLMJUDGE_TEST_IMAGE");

    test_version_and_statuses();
    test_null_arguments(model_path);
    test_bad_files();
    test_panic_boundary();

    vlmjudge_model *model = NULL;
    CHECK(vlmjudge_model_load(model_path, mmproj_path, NULL, &model) == VLMJUDGE_OK);
    if (!model) return 1;
    test_struct_size(model_path, model);
    test_pairs(model, image_path);
    test_batch_and_cancel(model);
    test_threads_share_a_model(model);
    vlmjudge_model_free(model);
    test_log_callback_and_model_lifetime(model_path, mmproj_path);

    if (failures) {
        fprintf(stderr, "abi_test: %d check(s) failed\n", failures);
        return 1;
    }
    printf("abi_test: all checks passed\n");
    return 0;
}
