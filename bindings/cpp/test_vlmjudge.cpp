// Tests of the C++ wrapper (vlmjudge.hpp): text and image pairs, per-pair errors,
// load errors as vlmjudge::Error, LoRA params and their load errors, batches (order, progress, cancellation), exceptions
// thrown from the progress callback, cancel() from another thread, params from the
// _params_init functions, move semantics, judges outliving their Model, and threads
// sharing one Model. Run by scripts/test-cpp-swift.sh plainly and under
// ASan + UBSan.
//
// Environment: VLMJUDGE_TEST_MODEL, VLMJUDGE_TEST_MMPROJ (the generated tiny-vlm
// fixture), VLMJUDGE_TEST_IMAGE (a PNG file).
// The panic boundary's test entry point (a library built with `test-hooks`).
#define VLMJUDGE_TEST_HOOKS
#include "vlmjudge.hpp"

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                \
    do {                                                                           \
        ++checks;                                                                  \
        if (!(cond)) {                                                             \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                         #cond);                                                   \
            ++failures;                                                            \
        }                                                                          \
    } while (0)

// `expr` throws vlmjudge::Error with `code` and a non-empty message.
#define CHECK_ERROR(expr, code)                                                    \
    do {                                                                           \
        bool thrown_ = false;                                                      \
        try {                                                                      \
            (void)(expr);                                                          \
        } catch (const vlmjudge::Error &e_) {                                      \
            thrown_ = true;                                                        \
            CHECK(e_.status() == (code));                                          \
            CHECK(std::string(e_.what()).size() > 0);                              \
            if (e_.status() != (code))                                             \
                std::fprintf(stderr, "  got status %d: %s\n", e_.status(), e_.what()); \
        }                                                                          \
        CHECK(thrown_);                                                            \
    } while (0)

static std::string env(const char *name) {
    const char *v = std::getenv(name);
    if (v == nullptr || *v == '\0') {
        std::fprintf(stderr, "%s is not set\n", name);
        std::exit(2);
    }
    return v;
}

static std::vector<std::uint8_t> read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), {});
}

static vlmjudge::JudgeParams small_params(std::uint32_t parallel = 4) {
    vlmjudge::JudgeParams p;
    p.ctx_per_seq = 384;
    p.parallel = parallel;
    p.threads = 1;
    return p;
}

static vlmjudge::Pair cat_pair(const std::string &id) {
    return vlmjudge::Pair::text(id, "How many legs does a cat have?", "A cat has four legs.",
                                "A cat has seven legs.");
}

static_assert(!std::is_copy_constructible_v<vlmjudge::Model>, "Model is move-only");
static_assert(!std::is_copy_assignable_v<vlmjudge::Model>, "Model is move-only");
static_assert(std::is_nothrow_move_constructible_v<vlmjudge::Model>, "Model moves");
static_assert(std::is_nothrow_move_assignable_v<vlmjudge::Model>, "Model moves");
static_assert(!std::is_copy_constructible_v<vlmjudge::Judge>, "Judge is move-only");
static_assert(std::is_nothrow_move_constructible_v<vlmjudge::Judge>, "Judge moves");
static_assert(std::is_nothrow_move_assignable_v<vlmjudge::Judge>, "Judge moves");
static_assert(std::is_copy_constructible_v<vlmjudge::Verdict>, "Verdict is a value");

// ModelParams::to_c() borrows lora_path, so it is refused on a temporary.
template <class T, class = void>
struct converts_to_c : std::false_type {};
template <class T>
struct converts_to_c<T, std::void_t<decltype(std::declval<T>().to_c())>> : std::true_type {};
static_assert(converts_to_c<vlmjudge::ModelParams &>::value, "to_c() on an lvalue");
static_assert(converts_to_c<const vlmjudge::ModelParams &>::value, "to_c() on a const lvalue");
static_assert(!converts_to_c<vlmjudge::ModelParams>::value, "no to_c() on a temporary");

static void test_basics() {
    CHECK(vlmjudge::version() == VLMJUDGE_VERSION);
    CHECK(std::string(vlmjudge::to_string(vlmjudge::Choice::Tie)) == "tie");
    // The defaults come from the library.
    vlmjudge::JudgeParams jp;
    CHECK(jp.mode == vlmjudge::Mode::Fast && jp.swap);
    vlmjudge::ModelParams mp;
    CHECK(mp.use_mmap && mp.batch_invariant);
    // A panic inside the library comes back as an Error with a message.
    CHECK_ERROR(vlmjudge::detail::check(vlmjudge_test_panic()), VLMJUDGE_ERR_PANIC);
    try {
        vlmjudge::detail::check(vlmjudge_test_panic());
    } catch (const vlmjudge::Error &e) {
        CHECK(std::string(e.what()).find("panic") != std::string::npos);
        CHECK(std::string(e.status_name()) == vlmjudge_status_str(VLMJUDGE_ERR_PANIC));
    }
}

// The wrapper's defaults are what the _params_init functions write, and those refuse a
// struct size other than the library's without touching the struct.
static void test_params_init() {
    vlmjudge_judge_params cj;
    CHECK(vlmjudge_judge_params_init(&cj, sizeof cj) == VLMJUDGE_OK);
    CHECK(cj.struct_size == sizeof cj);
    const vlmjudge_judge_params wj = vlmjudge::JudgeParams().to_c();
    // Field by field: padding bytes are not part of the value.
    CHECK(wj.struct_size == cj.struct_size && wj.mode == cj.mode && wj.swap == cj.swap);
    CHECK(wj.max_tokens == cj.max_tokens && wj.temperature == cj.temperature);
    CHECK(wj.top_k == cj.top_k && wj.top_p == cj.top_p && wj.seed == cj.seed);
    CHECK(wj.threads == cj.threads && wj.parallel == cj.parallel);
    CHECK(wj.ctx_per_seq == cj.ctx_per_seq);
    vlmjudge_model_params cm;
    CHECK(vlmjudge_model_params_init(&cm, sizeof cm) == VLMJUDGE_OK);
    CHECK(cm.struct_size == sizeof cm);
    const vlmjudge::ModelParams mp;
    const vlmjudge_model_params wm = mp.to_c();
    CHECK(wm.struct_size == cm.struct_size && wm.lora_path == nullptr);
    CHECK(wm.image_max_tokens == cm.image_max_tokens && wm.use_mmap == cm.use_mmap);
    CHECK(wm.image_cache_entries == cm.image_cache_entries && wm.lora_scale == cm.lora_scale);

    // A header with a grown or shrunk struct: refused, and not one byte written.
    alignas(vlmjudge_judge_params) unsigned char sentinel[sizeof cj + 8];
    unsigned char untouched[sizeof sentinel];
    std::memset(sentinel, 0xAB, sizeof sentinel);
    std::memcpy(untouched, sentinel, sizeof sentinel);
    CHECK_ERROR(vlmjudge::detail::check(vlmjudge_judge_params_init(
                    reinterpret_cast<vlmjudge_judge_params *>(sentinel), sizeof cj + 8)),
                VLMJUDGE_ERR_STRUCT_SIZE);
    CHECK_ERROR(vlmjudge::detail::check(vlmjudge_model_params_init(
                    reinterpret_cast<vlmjudge_model_params *>(sentinel), sizeof cm - 8)),
                VLMJUDGE_ERR_STRUCT_SIZE);
    CHECK(std::memcmp(sentinel, untouched, sizeof sentinel) == 0);
    CHECK_ERROR(vlmjudge::detail::check(vlmjudge_judge_params_init(nullptr, sizeof cj)),
                VLMJUDGE_ERR_NULL_ARGUMENT);
}

static void test_load_errors(const std::string &model_path) {
    CHECK_ERROR(vlmjudge::Model("/nonexistent/model.gguf"), VLMJUDGE_ERR_IO);
    try {
        vlmjudge::Model m("/nonexistent/model.gguf");
    } catch (const vlmjudge::Error &e) {
        CHECK(std::string(e.what()).find("/nonexistent/model.gguf") != std::string::npos);
    }
    const char *not_gguf = "cpp_test_not_gguf.bin";
    std::ofstream(not_gguf) << "definitely not a model";
    CHECK_ERROR(vlmjudge::Model(not_gguf), VLMJUDGE_ERR_INVALID_GGUF);
    std::remove(not_gguf);
    // A language model is not an mmproj.
    CHECK_ERROR(vlmjudge::Model(model_path, model_path), VLMJUDGE_ERR_MMPROJ_LOAD);
    // A path the C side would cut short at a NUL is refused by the wrapper.
    CHECK_ERROR(vlmjudge::Model(model_path + std::string(1, '\0') + "x"),
                VLMJUDGE_ERR_INVALID_ARGUMENT);
}

static void test_lora_params(const std::string &model_path) {
    // The defaults come from the library: no adapter, scale 1.
    vlmjudge::ModelParams mp;
    CHECK(!mp.lora_path.has_value());
    CHECK(mp.lora_scale == 1.0f);
    vlmjudge_model_params c = mp.to_c();
    CHECK(c.lora_path == nullptr && c.lora_scale == 1.0f);

    // The C struct carries the path (borrowed from mp) and the scale.
    mp.lora_path = "adapter.gguf";
    mp.lora_scale = 0.25f;
    c = mp.to_c();
    CHECK(c.lora_path == mp.lora_path->c_str());
    CHECK(std::string(c.lora_path) == "adapter.gguf");
    CHECK(c.lora_scale == 0.25f);

    // A missing adapter file is an I/O error naming the file.
    mp.lora_path = "/nonexistent/adapter.gguf";
    CHECK_ERROR(vlmjudge::Model(model_path, std::nullopt, mp), VLMJUDGE_ERR_IO);
    try {
        vlmjudge::Model m(model_path, std::nullopt, mp);
    } catch (const vlmjudge::Error &e) {
        CHECK(std::string(e.what()).find("/nonexistent/adapter.gguf") != std::string::npos);
    }
    // A GGUF that is not an adapter (here the model itself) is refused as such.
    mp.lora_path = model_path;
    CHECK_ERROR(vlmjudge::Model(model_path, std::nullopt, mp), VLMJUDGE_ERR_INVALID_GGUF);
    try {
        vlmjudge::Model m(model_path, std::nullopt, mp);
    } catch (const vlmjudge::Error &e) {
        CHECK(std::string(e.what()).find("not a LoRA adapter") != std::string::npos);
    }
    // A path the C side would cut short at a NUL is refused by the wrapper.
    mp.lora_path = model_path + std::string(1, '\0') + "x";
    CHECK_ERROR(vlmjudge::Model(model_path, std::nullopt, mp), VLMJUDGE_ERR_INVALID_ARGUMENT);
    // Without the adapter the same params load.
    mp.lora_path.reset();
    CHECK(vlmjudge::Model(model_path, std::nullopt, mp));
}

static void test_pairs(const vlmjudge::Model &model, const std::string &image_path) {
    vlmjudge::Judge judge(model, small_params());

    vlmjudge::Verdict v = judge.judge(cat_pair("text"));
    CHECK(v.ok());
    CHECK(v.id == "text");
    CHECK(v.choice != vlmjudge::Choice::None);
    CHECK(v.p_a && *v.p_a >= 0.0 && *v.p_a <= 1.0);
    CHECK(v.consistent.has_value());
    CHECK(!v.reasoning[0] && !v.reasoning[1]);  // fast mode
    CHECK(v.json.find("\"p_a\"") != std::string::npos);
    // The choice follows p(A).
    if (v.p_a && *v.p_a > 0.5) CHECK(v.choice == vlmjudge::Choice::A);
    if (v.p_a && *v.p_a < 0.5) CHECK(v.choice == vlmjudge::Choice::B);

    // An empty id gives the pair's index.
    CHECK(judge.judge(cat_pair("")).id == "0");

    // Invalid UTF-8 and a NUL byte are failed calls.
    vlmjudge::Pair bad = cat_pair("utf8");
    bad.question = "caf\xc3\x28?";
    CHECK_ERROR(judge.judge(bad), VLMJUDGE_ERR_INVALID_UTF8);
    bad.question = std::string("with\0nul", 8);
    CHECK_ERROR(judge.judge(bad), VLMJUDGE_ERR_INVALID_ARGUMENT);

    // An image pair on the VLM.
    std::vector<std::uint8_t> png = read_file(image_path);
    CHECK(png.size() > 8);
    vlmjudge::Verdict iv = judge.judge(vlmjudge::Pair::with_image(
        "png", "What is in the image?", "A blue square.", "A red circle.", png));
    CHECK(iv.ok());
    CHECK(iv.id == "png");
    CHECK(iv.p_a.has_value());

    // Undecodable and empty images fail on the verdict, not as an exception.
    const std::string garbage = "GIF89? not really";
    vlmjudge::Verdict gv = judge.judge(vlmjudge::Pair::with_image(
        "garbage", "What is in the image?", "A", "B",
        std::vector<std::uint8_t>(garbage.begin(), garbage.end())));
    CHECK(!gv.ok());
    CHECK(gv.error && gv.error->find("image") != std::string::npos);
    CHECK(gv.choice == vlmjudge::Choice::None);
    CHECK(!gv.p_a && !gv.consistent);
    CHECK(gv.id == "garbage");
    vlmjudge::Verdict ev = judge.judge(
        vlmjudge::Pair::with_image("empty", "What is in the image?", "A", "B", {}));
    CHECK(ev.error.has_value());

    // Empty text is the pair's own problem too.
    vlmjudge::Pair empty = cat_pair("empty-b");
    empty.response_b = "";
    CHECK(judge.judge(empty).error.has_value());
}

static void test_params(const vlmjudge::Model &model) {
    vlmjudge::JudgeParams bad = small_params();
    bad.mode = static_cast<vlmjudge::Mode>(7);
    CHECK_ERROR(vlmjudge::Judge(model, bad), VLMJUDGE_ERR_INVALID_ARGUMENT);

    vlmjudge::JudgeParams no_swap = small_params(1);
    no_swap.swap = false;
    vlmjudge::Judge one_order(model, no_swap);
    vlmjudge::Verdict v = one_order.judge(cat_pair("noswap"));
    CHECK(v.ok() && !v.consistent.has_value());

    vlmjudge::JudgeParams reason = small_params(1);
    reason.mode = vlmjudge::Mode::Reason;
    reason.max_tokens = 8;
    vlmjudge::Judge reasoner(model, reason);
    vlmjudge::Verdict r = reasoner.judge(cat_pair("reason"));
    CHECK(r.ok());
    CHECK(r.reasoning[0].has_value() && r.reasoning[1].has_value());
    CHECK(r.json.find("\"reasoning\"") != std::string::npos);
}

struct Boom {
    int value;
};

class CustomError : public std::runtime_error {
public:
    explicit CustomError(int c) : std::runtime_error("custom"), code(c) {}
    int code;
};

static void test_batch(const vlmjudge::Model &model) {
    vlmjudge::Judge judge(model, small_params(3));
    std::vector<vlmjudge::Pair> pairs;
    for (int i = 0; i < 6; ++i) {
        vlmjudge::Pair p = cat_pair("b" + std::to_string(i));
        if (i % 2) p.question = "Which is right?";
        pairs.push_back(p);
    }
    pairs[4].response_b = "";  // a bad pair reports on its own verdict

    std::vector<std::size_t> seen;
    std::vector<vlmjudge::Verdict> out =
        judge.judge_batch(pairs, [&](std::size_t done, std::size_t total) {
            CHECK(total == 6);
            seen.push_back(done);
            return true;
        });
    CHECK(out.size() == 6);
    for (std::size_t i = 0; i < out.size(); ++i) {
        CHECK(out[i].id == "b" + std::to_string(i));
        CHECK(out[i].error.has_value() == (i == 4));
    }
    CHECK(seen.size() == 6 && seen.back() == 6);
    for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i] > seen[i - 1]);

    // Without a callback, and empty ids are positions in the batch.
    std::vector<vlmjudge::Pair> unnamed{cat_pair(""), cat_pair(""), cat_pair("")};
    out = judge.judge_batch(unnamed);
    CHECK(out.size() == 3 && out[0].id == "0" && out[1].id == "1" && out[2].id == "2");
    // The same pair gets the same result alone and in a batch.
    CHECK(out[0].p_a == judge.judge(cat_pair("")).p_a);
    CHECK(judge.judge_batch({}).empty());

    // Returning false cancels: Error(VLMJUDGE_ERR_CANCELLED).
    std::size_t calls = 0;
    CHECK_ERROR(judge.judge_batch(pairs,
                                  [&](std::size_t done, std::size_t) {
                                      calls = done;
                                      return done < 2;
                                  }),
                VLMJUDGE_ERR_CANCELLED);
    CHECK(calls == 2);

    // An exception thrown by the callback propagates unchanged, whatever its type.
    bool caught = false;
    try {
        judge.judge_batch(pairs, [](std::size_t done, std::size_t) -> bool {
            if (done == 3) throw Boom{42};
            return true;
        });
    } catch (const Boom &b) {
        caught = b.value == 42;
    } catch (...) {
        CHECK(!"the wrong exception came back");
    }
    CHECK(caught);

    caught = false;
    try {
        judge.judge_batch(pairs, [](std::size_t, std::size_t) -> bool { throw CustomError(7); });
    } catch (const vlmjudge::Error &) {
        CHECK(!"a vlmjudge::Error replaced the callback's exception");
    } catch (const CustomError &e) {
        caught = e.code == 7;
    }
    CHECK(caught);

    // Thrown at the last pair (when the batch is otherwise complete): still rethrown.
    caught = false;
    try {
        judge.judge_batch(pairs, [](std::size_t done, std::size_t total) -> bool {
            if (done == total) throw Boom{6};
            return true;
        });
    } catch (const Boom &b) {
        caught = b.value == 6;
    }
    CHECK(caught);

    // The judge is still usable after cancellations and exceptions.
    out = judge.judge_batch(std::vector<vlmjudge::Pair>(pairs.begin(), pairs.begin() + 2));
    CHECK(out.size() == 2 && out[0].ok() && out[1].id == "b1");
}

// cancel() from another thread stops a batch in progress. Deterministic: the progress
// callback (on the judging thread) waits until the other thread's cancel() has
// returned, so the request is pending when the batch goes on.
static void test_cancel_from_another_thread(const vlmjudge::Model &model) {
    vlmjudge::Judge judge(model, small_params(2));
    std::vector<vlmjudge::Pair> pairs;
    for (int i = 0; i < 6; ++i) pairs.push_back(cat_pair("c" + std::to_string(i)));
    const std::vector<vlmjudge::Verdict> expected = judge.judge_batch(pairs);

    std::mutex mutex;
    std::condition_variable changed;
    bool first_pair_done = false;
    bool cancel_returned = false;
    std::thread canceller([&] {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return first_pair_done; });
        judge.cancel();  // the batch is running on the main thread
        cancel_returned = true;
        changed.notify_all();
    });
    std::vector<std::size_t> seen;
    CHECK_ERROR(judge.judge_batch(pairs,
                                  [&](std::size_t done, std::size_t) {
                                      seen.push_back(done);
                                      if (done == 1) {
                                          std::unique_lock<std::mutex> lock(mutex);
                                          first_pair_done = true;
                                          changed.notify_all();
                                          changed.wait(lock, [&] { return cancel_returned; });
                                      }
                                      return true;  // never asks to stop: cancel() does
                                  }),
                VLMJUDGE_ERR_CANCELLED);
    canceller.join();
    CHECK(cancel_returned);
    // Stopped right after the cancel: at most the pairs in flight with the first one
    // (parallel = 2) were reported, not the whole batch.
    CHECK(!seen.empty() && seen.size() <= 2);

    // The request was used up: the judge works afterwards, with the same results.
    const std::vector<vlmjudge::Verdict> after = judge.judge_batch(pairs);
    CHECK(after.size() == expected.size());
    for (std::size_t i = 0; i < after.size() && i < expected.size(); ++i)
        CHECK(after[i].ok() && after[i].p_a == expected[i].p_a);

    // With no call in progress, the next call is cancelled at once, and only that one.
    judge.cancel();
    CHECK_ERROR(judge.judge(cat_pair("next")), VLMJUDGE_ERR_CANCELLED);
    CHECK(judge.judge(cat_pair("next")).p_a == expected[0].p_a);
    judge.cancel();
    std::size_t calls = 0;
    CHECK_ERROR(judge.judge_batch(pairs,
                                  [&](std::size_t, std::size_t) {
                                      ++calls;
                                      return true;
                                  }),
                VLMJUDGE_ERR_CANCELLED);
    CHECK(calls == 0);  // cancelled before any pair was judged
    CHECK(judge.judge_batch(pairs).size() == pairs.size());

    // A moved-from Judge has nothing to cancel.
    vlmjudge::Judge moved(std::move(judge));
    CHECK_ERROR(judge.cancel(), VLMJUDGE_ERR_NULL_ARGUMENT);  // NOLINT: moved-from on purpose
    CHECK(moved.judge(cat_pair("moved")).ok());
}

static void test_moves(const std::string &model_path, const std::string &mmproj_path) {
    vlmjudge::Model a(model_path, mmproj_path);
    CHECK(a && a.has_vision());
    vlmjudge::Model b(std::move(a));
    CHECK(!a && !a.has_vision() && a.get() == nullptr);  // NOLINT: moved-from on purpose
    CHECK(b && b.has_vision());
    // A Judge on a moved-from Model is an Error, not a crash.
    CHECK_ERROR(vlmjudge::Judge(a), VLMJUDGE_ERR_NULL_ARGUMENT);

    vlmjudge::Model text_only(model_path);
    CHECK(!text_only.has_vision());
    a = std::move(text_only);  // assign into a moved-from Model
    CHECK(a && !a.has_vision());
    a = std::move(b);  // frees the text-only model, takes the VLM
    CHECK(a.has_vision() && !b);

    vlmjudge::Judge j1(a, small_params(1));
    vlmjudge::Judge j2(std::move(j1));
    CHECK(!j1 && j2);
    CHECK_ERROR(j1.judge(cat_pair("moved")), VLMJUDGE_ERR_NULL_ARGUMENT);
    CHECK_ERROR(j1.judge_batch({cat_pair("moved")}), VLMJUDGE_ERR_NULL_ARGUMENT);
    vlmjudge::Judge j3(a, small_params(1));
    j3 = std::move(j2);  // frees j3's own judge
    CHECK(j3 && !j2);
    CHECK(j3.judge(cat_pair("after-move")).ok());

    // Judges keep the model alive after the Model object is gone.
    std::vector<vlmjudge::Judge> judges;
    {
        vlmjudge::Model scoped(model_path);
        judges.emplace_back(scoped, small_params(1));
        judges.emplace_back(scoped, small_params(1));
    }
    for (vlmjudge::Judge &j : judges) CHECK(j.judge(cat_pair("late")).ok());

    // Verdicts are values.
    vlmjudge::Verdict v = j3.judge(cat_pair("copy"));
    vlmjudge::Verdict copy = v;
    vlmjudge::Verdict moved = std::move(v);
    CHECK(copy.id == "copy" && moved.id == "copy" && copy.p_a == moved.p_a);
    // Moved-from a, b, j1, j2 are destroyed here.
}

static void test_threads(const vlmjudge::Model &model) {
    std::vector<vlmjudge::Pair> pairs;
    for (int i = 0; i < 8; ++i)
        pairs.push_back(vlmjudge::Pair::text("", "Question " + std::to_string(i) + "?",
                                             "Four.", "Seven."));
    vlmjudge::Judge reference(model, small_params(4));
    const std::vector<vlmjudge::Verdict> expected = reference.judge_batch(pairs);
    std::vector<std::vector<vlmjudge::Verdict>> results(3);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < results.size(); ++t)
        threads.emplace_back([&, t] {
            vlmjudge::Judge judge(model, small_params(4));  // one judge per thread
            results[t] = judge.judge_batch(pairs);
        });
    for (std::thread &t : threads) t.join();
    for (const auto &r : results) {
        CHECK(r.size() == expected.size());
        for (std::size_t i = 0; i < r.size() && i < expected.size(); ++i)
            CHECK(r[i].p_a == expected[i].p_a);
    }
}

int main() {
    const std::string model_path = env("VLMJUDGE_TEST_MODEL");
    const std::string mmproj_path = env("VLMJUDGE_TEST_MMPROJ");
    const std::string image_path = env("VLMJUDGE_TEST_IMAGE");

    try {
        test_basics();
        test_params_init();
        test_load_errors(model_path);
        test_lora_params(model_path);
        const vlmjudge::Model model(model_path, mmproj_path);
        CHECK(model.has_vision());
        test_pairs(model, image_path);
        test_params(model);
        test_batch(model);
        test_cancel_from_another_thread(model);
        test_threads(model);
        test_moves(model_path, mmproj_path);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
        ++failures;
    }

    if (failures) {
        std::fprintf(stderr, "test_vlmjudge: %d of %d check(s) failed\n", failures, checks);
        return 1;
    }
    std::printf("test_vlmjudge: all %d checks passed\n", checks);
    return 0;
}
