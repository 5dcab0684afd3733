/* vlmjudge: self-improving vision-language judges, C ABI.
 *
 * Generated from src/ffi by cbindgen; do not edit (run `make header`).
 *
 * Thread safety: a vlmjudge_model may be shared by any number of threads; a
 * vlmjudge_judge is used by one thread at a time (it may move between threads);
 * a vlmjudge_verdict is immutable. Every function that can fail returns a
 * vlmjudge_status, writes its outputs only on success, and sets the calling
 * thread's vlmjudge_last_error_message(). No function aborts the process or lets
 * a panic unwind into the caller. Every _free accepts NULL.
 */

#ifndef VLMJUDGE_H
#define VLMJUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VLMJUDGE_VERSION "0.1.0"
#define VLMJUDGE_VERSION_MAJOR 0
#define VLMJUDGE_VERSION_MINOR 1
#define VLMJUDGE_VERSION_PATCH 0


/*
 A judging session. Use from one thread at a time (it may move between threads);
 open one judge per thread to judge in parallel on a shared model.
 */
typedef struct vlmjudge_judge vlmjudge_judge;

/*
 A loaded model. Thread-safe: share one handle between any number of threads and
 judges. Judges keep the model alive, so it may be freed while they are in use.
 */
typedef struct vlmjudge_model vlmjudge_model;

/*
 The verdict on one pair. Immutable; owns every string its accessors return (valid
 until `vlmjudge_verdict_free`). May be read from any thread.
 */
typedef struct vlmjudge_verdict vlmjudge_verdict;

/*
 A status code. Codes are grouped in ranges and never reused.
 */
typedef int32_t vlmjudge_status;

/*
 Log levels passed to a `vlmjudge_log_callback`.
 */
typedef int32_t vlmjudge_log_level;

/*
 Receives one complete log line (no trailing newline), valid only during the call.
 May be called from any thread that uses the library, concurrently, but never while
 the library holds a lock of its own: lines logged under one wait until it is
 released. So the callback may call into the library (except
 `vlmjudge_set_log_callback`); lines it causes are delivered after it returns.
 */
typedef void (*vlmjudge_log_callback)(vlmjudge_log_level level, const char *message, void *user_data);

/*
 How to load a model: initialise one with `vlmjudge_model_params_init()` (or
 `vlmjudge_model_default_params()`) and change fields.
 */
typedef struct vlmjudge_model_params {
  /*
   `sizeof(vlmjudge_model_params)`, set by the initialiser.
   */
  size_t struct_size;
  /*
   Layers to offload to a GPU (0 = CPU only); ignored without a GPU build.
   */
  uint32_t gpu_layers;
  /*
   Threads for the image encoder (0 = physical cores; at most 512).
   */
  uint32_t threads;
  /*
   Memory-map the weights (default true).
   */
  bool use_mmap;
  /*
   Results independent of what else is in a batch, and no flash attention (default
   true; see the README for what it costs).
   */
  bool batch_invariant;
  /*
   Encoded images kept in memory, keyed by content (default 64; 0 = no cache; at
   most 4096).
   */
  uint32_t image_cache_entries;
  /*
   A LoRA adapter GGUF (e.g. from `vlmjudge train`) applied on top of the model, or
   NULL (the default). Read during `vlmjudge_model_load` only.
   */
  const char *lora_path;
  /*
   Scale of the LoRA adapter (default 1 = as trained).
   */
  float lora_scale;
  /*
   Most image embeddings one image may take (default 512; 16 to 16384, or 0 for
   the mmproj's own limit). Projectors that resize or tile by size (Qwen2.5-VL,
   SmolVLM, ...) downscale larger images to fit; Gemma 3 and LLaVA ignore it.
   */
  uint32_t image_max_tokens;
} vlmjudge_model_params;

/*
 How a judge reaches its verdict.
 */
typedef int32_t vlmjudge_mode;

/*
 Settings of a judge session: initialise one with `vlmjudge_judge_params_init()`
 (or `vlmjudge_judge_default_params()`) and change fields.
 */
typedef struct vlmjudge_judge_params {
  /*
   `sizeof(vlmjudge_judge_params)`, set by the initialiser.
   */
  size_t struct_size;
  /*
   VLMJUDGE_MODE_FAST (default) or VLMJUDGE_MODE_REASON.
   */
  vlmjudge_mode mode;
  /*
   Judge both presentation orders and average (default true).
   */
  bool swap;
  /*
   Most reasoning tokens per order in reason mode (default 256).
   */
  uint32_t max_tokens;
  /*
   Sampling temperature for reasoning; 0 is greedy (default).
   */
  float temperature;
  /*
   Keep the k most likely tokens when sampling (0 = all; default 50).
   */
  uint32_t top_k;
  /*
   Nucleus sampling threshold (default 0.9).
   */
  float top_p;
  /*
   Seed of the sampler (with the pair id and order, so results do not depend on
   batch order). Default 0.
   */
  uint64_t seed;
  /*
   llama.cpp threads (0 = physical cores, the default; at most 512).
   */
  uint32_t threads;
  /*
   Pairs in flight at once in `vlmjudge_judge_batch` (default 8).
   */
  uint32_t parallel;
  /*
   KV cells per sequence: one order's prompt (image included) plus reasoning
   (default 1024; 16 to 131072).
   */
  uint32_t ctx_per_seq;
} vlmjudge_judge_params;

/*
 One preference pair. Strings are UTF-8 and NUL-terminated; they are copied, so they
 need to live only during the call.
 */
typedef struct vlmjudge_pair {
  /*
   An id echoed in the verdict (any string, "" included); NULL gives the pair's
   index in the batch ("0" for a single pair).
   */
  const char *id;
  const char *question;
  const char *response_a;
  const char *response_b;
  /*
   Encoded image bytes (PNG, JPEG, WebP or GIF), or NULL for a text-only pair. A
   non-NULL pointer with `image_len` 0 is an empty image (an error on the verdict);
   NULL with `image_len` > 0 is VLMJUDGE_ERR_NULL_ARGUMENT.
   */
  const uint8_t *image;
  size_t image_len;
} vlmjudge_pair;

/*
 Called after each pair in a batch with the number done so far; return nonzero to go
 on, 0 to cancel the rest. (An int, not a bool: any value a host returns is defined.)
 */
typedef int32_t (*vlmjudge_progress_callback)(size_t done, size_t total, void *user_data);

/*
 Which response a verdict prefers.
 */
typedef int32_t vlmjudge_choice;

/*
 Success.
 */
#define VLMJUDGE_OK 0

/*
 A required pointer argument was NULL.
 */
#define VLMJUDGE_ERR_NULL_ARGUMENT 100

/*
 A string argument was not valid UTF-8.
 */
#define VLMJUDGE_ERR_INVALID_UTF8 101

/*
 An argument was out of range or inconsistent.
 */
#define VLMJUDGE_ERR_INVALID_ARGUMENT 102

/*
 A params struct's `struct_size` does not match this library's.
 */
#define VLMJUDGE_ERR_STRUCT_SIZE 103

/*
 A file could not be read.
 */
#define VLMJUDGE_ERR_IO 200

/*
 A file is not a usable GGUF (not GGUF, truncated, corrupt).
 */
#define VLMJUDGE_ERR_INVALID_GGUF 201

/*
 llama.cpp could not load the model.
 */
#define VLMJUDGE_ERR_MODEL_LOAD 202

/*
 The mmproj cannot be loaded: llama.cpp refused it, or it is corrupt or does not fit the model.
 */
#define VLMJUDGE_ERR_MMPROJ_LOAD 203

/*
 The prompt template or the model's chat template is unusable.
 */
#define VLMJUDGE_ERR_TEMPLATE 204

/*
 llama.cpp failed while judging (out of memory, decode failure).
 */
#define VLMJUDGE_ERR_ENGINE 300

/*
 The progress callback asked to stop.
 */
#define VLMJUDGE_ERR_CANCELLED 301

/*
 A bug inside vlmjudge was caught at the boundary; the message has the details.
 */
#define VLMJUDGE_ERR_PANIC 900

#define VLMJUDGE_LOG_DEBUG 0

#define VLMJUDGE_LOG_INFO 1

#define VLMJUDGE_LOG_WARN 2

#define VLMJUDGE_LOG_ERROR 3

/*
 Read the verdict from the logits after `[[`; no generation.
 */
#define VLMJUDGE_MODE_FAST 0

/*
 Write reasoning first, then the verdict.
 */
#define VLMJUDGE_MODE_REASON 1

#define VLMJUDGE_CHOICE_A 0

#define VLMJUDGE_CHOICE_B 1

/*
 p(A) is exactly 0.5, or, with reasoning, the two orders chose different responses.
 */
#define VLMJUDGE_CHOICE_TIE 2

/*
 No verdict (the pair failed; see `vlmjudge_verdict_error`).
 */
#define VLMJUDGE_CHOICE_NONE 3

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/*
 The library version, e.g. `"0.1.0"` (equal to `VLMJUDGE_VERSION`). Static storage.
 */
const char *vlmjudge_version(void);

/*
 A short, static description of a status code (`"ok"`, `"NULL argument"`, ...);
 unknown codes give `"unknown status"`.
 */
const char *vlmjudge_status_str(vlmjudge_status status);

/*
 The message of the last failed call on the calling thread (`""` if none). Owned by
 the library; valid until the next failing vlmjudge call on this thread.
 */
const char *vlmjudge_last_error_message(void);

#if defined(VLMJUDGE_TEST_HOOKS)
/*
 For binding test suites only: panics inside the boundary, so a test can check that
 the panic comes back as `VLMJUDGE_ERR_PANIC` with a message and never unwinds into
 the caller. Only in libraries built with the `test-hooks` feature (declared when
 `VLMJUDGE_TEST_HOOKS` is defined before including this header).
 */
vlmjudge_status vlmjudge_test_panic(void);
#endif

/*
 Sends llama.cpp's (and vlmjudge's) log lines to `callback` with `user_data`, or,
 with a NULL callback, drops them (the default: nothing is printed to stderr).
 Process-wide; safe to call from any thread. When it returns, no thread is still
 inside the previous callback, so the previous `user_data` may be freed. Do not call
 it from inside a log callback (it would wait for itself). The callback must not
 throw or longjmp.
 */
vlmjudge_status vlmjudge_set_log_callback(vlmjudge_log_callback callback, void *user_data);

/*
 The default model params.
 */
struct vlmjudge_model_params vlmjudge_model_default_params(void);

/*
 Writes the default model params to `*params`, a struct of `size` bytes: pass
 `sizeof(vlmjudge_model_params)`. Nothing is written unless `size` is this library's
 size, so a program built against another version's header gets
 VLMJUDGE_ERR_STRUCT_SIZE instead of a struct written past its end. Prefer it to
 `vlmjudge_model_default_params()`, which returns the library's struct by value.

 Returns VLMJUDGE_OK, VLMJUDGE_ERR_NULL_ARGUMENT or VLMJUDGE_ERR_STRUCT_SIZE.
 Thread-safe.

 # Safety
 `params` must be NULL or point to `size` writable bytes.
 */
vlmjudge_status vlmjudge_model_params_init(struct vlmjudge_model_params *params, size_t size);

/*
 Loads a GGUF model and, if `mmproj_path` is not NULL, its multimodal projector.
 `params` may be NULL for the defaults. On success writes a new handle to `*out`
 (free it with `vlmjudge_model_free`).

 Returns VLMJUDGE_OK, VLMJUDGE_ERR_NULL_ARGUMENT, VLMJUDGE_ERR_STRUCT_SIZE,
 VLMJUDGE_ERR_IO (missing file), VLMJUDGE_ERR_INVALID_GGUF, VLMJUDGE_ERR_MODEL_LOAD,
 VLMJUDGE_ERR_MMPROJ_LOAD (including an mmproj that does not fit the model) or
 VLMJUDGE_ERR_PANIC. A `params.lora_path` that is not an adapter gives
 VLMJUDGE_ERR_INVALID_GGUF; one made for another model, VLMJUDGE_ERR_MODEL_LOAD.
 Paths are bytes on Unix (any encoding the file system takes; a split model's parts
 need UTF-8 names).
 Thread-safe.

 # Safety
 Strings must be NUL-terminated; `params` NULL or valid; `out` writable.
 */
vlmjudge_status vlmjudge_model_load(const char *model_path,
                                    const char *mmproj_path,
                                    const struct vlmjudge_model_params *params,
                                    struct vlmjudge_model **out);

/*
 Releases a model handle (NULL is a no-op). Judges opened on it stay usable; the
 model's memory is released when the last of them is freed.

 # Safety
 `model` must be NULL or a handle from `vlmjudge_model_load`, not freed before.
 */
void vlmjudge_model_free(struct vlmjudge_model *model);

/*
 Whether the model was loaded with an mmproj and can judge image pairs (false for
 NULL).

 # Safety
 `model` must be NULL or a live handle.
 */
bool vlmjudge_model_has_vision(const struct vlmjudge_model *model);

/*
 The default judge params: fast mode with swap debiasing.
 */
struct vlmjudge_judge_params vlmjudge_judge_default_params(void);

/*
 Writes the default judge params to `*params`, a struct of `size` bytes: pass
 `sizeof(vlmjudge_judge_params)`. Nothing is written unless `size` is this library's
 size, so a program built against another version's header gets
 VLMJUDGE_ERR_STRUCT_SIZE instead of a struct written past its end. Prefer it to
 `vlmjudge_judge_default_params()`, which returns the library's struct by value.

 Returns VLMJUDGE_OK, VLMJUDGE_ERR_NULL_ARGUMENT or VLMJUDGE_ERR_STRUCT_SIZE.
 Thread-safe.

 # Safety
 `params` must be NULL or point to `size` writable bytes.
 */
vlmjudge_status vlmjudge_judge_params_init(struct vlmjudge_judge_params *params, size_t size);

/*
 Opens a judge on `model`; `params` may be NULL for the defaults. On success writes
 a new handle to `*out` (free it with `vlmjudge_judge_free`). The judge keeps the
 model alive.

 Returns VLMJUDGE_OK, VLMJUDGE_ERR_NULL_ARGUMENT, VLMJUDGE_ERR_STRUCT_SIZE,
 VLMJUDGE_ERR_INVALID_ARGUMENT, VLMJUDGE_ERR_TEMPLATE (model without chat template),
 VLMJUDGE_ERR_ENGINE (context allocation failed) or VLMJUDGE_ERR_PANIC. Thread-safe.

 # Safety
 `model` must be a live handle, `params` NULL or valid, `out` writable.
 */
vlmjudge_status vlmjudge_judge_new(const struct vlmjudge_model *model,
                                   const struct vlmjudge_judge_params *params,
                                   struct vlmjudge_judge **out);

/*
 Releases a judge (NULL is a no-op).

 # Safety
 `judge` must be NULL or a handle from `vlmjudge_judge_new`, not freed before and not
 in use on another thread.
 */
void vlmjudge_judge_free(struct vlmjudge_judge *judge);

/*
 Asks `judge` to stop. The judging call in progress on it returns
 VLMJUDGE_ERR_CANCELLED soon after (within one step of llama.cpp's decode; an image
 being encoded finishes first), writing no verdicts; if no call is in progress, the
 next one returns VLMJUDGE_ERR_CANCELLED at once. The request is used up when the
 call returns, including a call that finished before it noticed the request.

 The one function that may be called on a judge while another thread is inside
 `vlmjudge_judge_pair` or `vlmjudge_judge_batch` on it (e.g. from a UI's cancel
 button). Returns VLMJUDGE_OK or VLMJUDGE_ERR_NULL_ARGUMENT.

 # Safety
 `judge` must be NULL or a live handle that is not freed during the call.
 */
vlmjudge_status vlmjudge_judge_cancel(const struct vlmjudge_judge *judge);

/*
 Judges one pair and writes a new verdict to `*out` (free it with
 `vlmjudge_verdict_free`). A problem with the pair itself (empty text, an
 undecodable image, an image without mmproj, too long for the context) is not a
 failed call: the verdict carries it (`vlmjudge_verdict_error`).

 Returns VLMJUDGE_OK, VLMJUDGE_ERR_NULL_ARGUMENT, VLMJUDGE_ERR_INVALID_UTF8,
 VLMJUDGE_ERR_CANCELLED (`vlmjudge_judge_cancel`), VLMJUDGE_ERR_ENGINE or
 VLMJUDGE_ERR_PANIC.

 # Safety
 `judge` must be a live handle not used concurrently; `pair` valid; `out` writable.
 */
vlmjudge_status vlmjudge_judge_pair(struct vlmjudge_judge *judge,
                                    const struct vlmjudge_pair *pair,
                                    struct vlmjudge_verdict **out);

/*
 Judges `n` pairs with many in flight and, on success, writes `n` new verdicts to
 `verdicts_out[0..n]` in input order (free each with `vlmjudge_verdict_free`). Each
 pair's own problem is reported on its verdict, not as a failed batch.
 `progress` (may be NULL) is called on this thread after each pair; returning 0
 cancels the batch: VLMJUDGE_ERR_CANCELLED and nothing is written (as after
 `vlmjudge_judge_cancel` from another thread).

 Returns VLMJUDGE_OK, VLMJUDGE_ERR_NULL_ARGUMENT (`pairs` or `verdicts_out` NULL
 with n > 0, or a NULL string), VLMJUDGE_ERR_INVALID_UTF8, VLMJUDGE_ERR_CANCELLED,
 VLMJUDGE_ERR_ENGINE or VLMJUDGE_ERR_PANIC.

 # Safety
 `judge` must be a live handle not used concurrently; `pairs` must hold `n` pairs
 and `verdicts_out` room for `n` pointers.
 */
vlmjudge_status vlmjudge_judge_batch(struct vlmjudge_judge *judge,
                                     const struct vlmjudge_pair *pairs,
                                     size_t n,
                                     struct vlmjudge_verdict **verdicts_out,
                                     vlmjudge_progress_callback progress,
                                     void *user_data);

/*
 The preferred response (VLMJUDGE_CHOICE_NONE for NULL).

 # Safety
 `verdict` must be NULL or a live verdict.
 */
vlmjudge_choice vlmjudge_verdict_choice(const struct vlmjudge_verdict *verdict);

/*
 Probability that response A is better, averaged over the orders judged; NaN when
 there is none (a failed pair, or NULL).

 # Safety
 `verdict` must be NULL or a live verdict.
 */
double vlmjudge_verdict_p_a(const struct vlmjudge_verdict *verdict);

/*
 1 if both orders preferred the same response, 0 if not, -1 when unknown (judged
 without swap, a failed pair, or NULL).

 # Safety
 `verdict` must be NULL or a live verdict.
 */
int32_t vlmjudge_verdict_consistent(const struct vlmjudge_verdict *verdict);

/*
 How many presentation orders were judged: 2 with swap, 1 without, 0 for a failed
 pair or NULL.

 # Safety
 `verdict` must be NULL or a live verdict.
 */
size_t vlmjudge_verdict_n_orders(const struct vlmjudge_verdict *verdict);

/*
 p(A) from presentation order `order` alone (0 = as given, 1 = swapped), mapped back
 to the given A; NaN when there is none.

 # Safety
 `verdict` must be NULL or a live verdict.
 */
double vlmjudge_verdict_order_p_a(const struct vlmjudge_verdict *verdict, size_t order);

/*
 The response presentation order `order` preferred, in the given A/B terms.

 # Safety
 `verdict` must be NULL or a live verdict.
 */
vlmjudge_choice vlmjudge_verdict_order_choice(const struct vlmjudge_verdict *verdict, size_t order);

/*
 The judge's reasoning for presentation order `order` (0 = as given, 1 = swapped),
 or NULL (fast mode, no such order, or NULL verdict).

 # Safety
 `verdict` must be NULL or a live verdict.
 */
const char *vlmjudge_verdict_reasoning(const struct vlmjudge_verdict *verdict, size_t order);

/*
 Why the pair could not be judged (e.g. an undecodable image), or NULL when it was.

 # Safety
 `verdict` must be NULL or a live verdict.
 */
const char *vlmjudge_verdict_error(const struct vlmjudge_verdict *verdict);

/*
 The pair's id ("" for NULL).

 # Safety
 `verdict` must be NULL or a live verdict.
 */
const char *vlmjudge_verdict_id(const struct vlmjudge_verdict *verdict);

/*
 The whole verdict as one JSON object, as the CLI writes it (per-order results,
 token counts, timing). "" for NULL.

 # Safety
 `verdict` must be NULL or a live verdict.
 */
const char *vlmjudge_verdict_json(const struct vlmjudge_verdict *verdict);

/*
 Releases a verdict (NULL is a no-op).

 # Safety
 `verdict` must be NULL or a verdict from this library, not freed before.
 */
void vlmjudge_verdict_free(struct vlmjudge_verdict *verdict);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* VLMJUDGE_H */
