// vlmjudge.hpp: a header-only C++17 wrapper over the vlmjudge C ABI (vlmjudge.h).
//
//   vlmjudge::Model model("judge.gguf");                       // or (path, mmproj, params)
//   vlmjudge::Judge judge(model);                               // one per thread
//   vlmjudge::Verdict v = judge.judge(vlmjudge::Pair::text("q1", "2+2?", "4", "5"));
//   if (!v.error) std::cout << vlmjudge::to_string(v.choice) << " " << *v.p_a << "\n";
//
// Ownership: Model and Judge own their C handles through std::unique_ptr and are
// move-only; a moved-from object holds no handle, is safe to destroy or assign to, and
// any call on it throws vlmjudge::Error(VLMJUDGE_ERR_NULL_ARGUMENT). Verdict is a
// plain value: everything is copied out of the C verdict, which is freed at once.
//
// Thread safety (as in vlmjudge.h): a Model may be shared by any number of threads
// (its methods are const and the C model is thread-safe); a Judge is used by one
// thread at a time (it may move between threads): open one Judge per thread on a
// shared Model to judge in parallel. The one exception is Judge::cancel(), which any
// thread may call while another is inside judge() or judge_batch() on that Judge. A
// Judge keeps its model alive, so the Model object may be destroyed while Judges
// opened on it are still in use. Verdict, Pair and the params structs are ordinary
// values.
//
// Errors: a failing C call throws vlmjudge::Error, which carries the status code and
// the message of vlmjudge_last_error_message(), read immediately after the call on
// the same thread. A problem with one pair (empty text, undecodable image, image
// without mmproj, too long for the context) is not an exception: the Verdict carries
// it in `error`. Strings with an embedded NUL byte, which C cannot see whole, are
// refused by the wrapper with Error(VLMJUDGE_ERR_INVALID_ARGUMENT) before any call.
//
// Exceptions never cross into the C library: an exception thrown by a judge_batch
// progress callback is caught inside the C callback, cancels the batch, and is
// rethrown unchanged (same type, same object) once vlmjudge_judge_batch returns.
#ifndef VLMJUDGE_HPP
#define VLMJUDGE_HPP

#include <vlmjudge.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vlmjudge {

/// A failed call into the C library (or a wrapper-level argument check). `what()` is
/// the library's message; `status()` the vlmjudge_status code (VLMJUDGE_ERR_*).
class Error : public std::runtime_error {
public:
    Error(vlmjudge_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}

    vlmjudge_status status() const noexcept { return status_; }
    /// The short static description of the status (vlmjudge_status_str).
    const char *status_name() const noexcept { return vlmjudge_status_str(status_); }

private:
    vlmjudge_status status_;
};

/// The library version, e.g. "0.1.0".
inline std::string version() { return vlmjudge_version(); }

/// Which response a verdict prefers.
enum class Choice : std::int32_t {
    A = VLMJUDGE_CHOICE_A,
    B = VLMJUDGE_CHOICE_B,
    Tie = VLMJUDGE_CHOICE_TIE,  // p(A) is exactly 0.5, or reasoned orders disagree
    None = VLMJUDGE_CHOICE_NONE,  // the pair failed; see Verdict::error
};

/// "A", "B", "tie" or "none" (the CLI's spelling).
inline const char *to_string(Choice c) noexcept {
    switch (c) {
    case Choice::A: return "A";
    case Choice::B: return "B";
    case Choice::Tie: return "tie";
    case Choice::None: return "none";
    }
    return "none";
}

/// How a judge reaches its verdict.
enum class Mode : std::int32_t {
    Fast = VLMJUDGE_MODE_FAST,  // read p(A) from the logits after "[["; no generation
    Reason = VLMJUDGE_MODE_REASON,  // write reasoning first, then the verdict
};

namespace detail {

/// Throws Error for a failed status, with the calling thread's last error message.
/// Must be called right after the failing C call, before any other vlmjudge call.
[[noreturn]] inline void throw_status(vlmjudge_status status) {
    const char *message = vlmjudge_last_error_message();
    if (message == nullptr || *message == '\0') message = vlmjudge_status_str(status);
    throw Error(status, message);
}

inline void check(vlmjudge_status status) {
    if (status != VLMJUDGE_OK) throw_status(status);
}

/// C strings end at the first NUL; refuse a std::string that would be cut short.
inline const char *c_str(const std::string &s, const char *what) {
    if (s.find('\0') != std::string::npos)
        throw Error(VLMJUDGE_ERR_INVALID_ARGUMENT, std::string(what) + " contains a NUL byte");
    return s.c_str();
}

inline std::optional<std::string> opt_string(const char *s) {
    if (s == nullptr) return std::nullopt;
    return std::string(s);
}

struct ModelDeleter {
    void operator()(vlmjudge_model *m) const noexcept { vlmjudge_model_free(m); }
};
struct JudgeDeleter {
    void operator()(vlmjudge_judge *j) const noexcept { vlmjudge_judge_free(j); }
};
struct VerdictDeleter {
    void operator()(vlmjudge_verdict *v) const noexcept { vlmjudge_verdict_free(v); }
};

/// The library's defaults, written by its _params_init function with the size of the
/// struct as this header declares it: a library built from another header refuses
/// (Error(VLMJUDGE_ERR_STRUCT_SIZE)) instead of writing past the end of the struct,
/// which the by-value _default_params() functions cannot promise.
inline vlmjudge_model_params default_model_params() {
    vlmjudge_model_params p{};
    check(vlmjudge_model_params_init(&p, sizeof p));
    return p;
}

inline vlmjudge_judge_params default_judge_params() {
    vlmjudge_judge_params p{};
    check(vlmjudge_judge_params_init(&p, sizeof p));
    return p;
}

}  // namespace detail

/// How to load a model. A default-constructed ModelParams holds the library's defaults
/// (vlmjudge_model_params_init()); change fields as needed. The constructor and to_c()
/// throw Error(VLMJUDGE_ERR_STRUCT_SIZE) when the library was built from another
/// vlmjudge.h than this program.
struct ModelParams {
    std::uint32_t gpu_layers;  // layers to offload to a GPU (0 = CPU only)
    std::uint32_t threads;  // image encoder threads (0 = physical cores)
    bool use_mmap;  // memory-map the weights
    bool batch_invariant;  // results independent of what else is in a batch
    std::uint32_t image_cache_entries;  // encoded images kept in memory (0 = no cache)
    /// A LoRA adapter GGUF (e.g. from `vlmjudge train`) applied on top of the model;
    /// nullopt (the default) for none. Read only while the Model is being loaded.
    std::optional<std::string> lora_path;
    float lora_scale;  // scale of the adapter (1 = as trained)
    std::uint32_t image_max_tokens;  // most image embeddings per image (0 = the mmproj's own limit)

    ModelParams() {
        const vlmjudge_model_params d = detail::default_model_params();
        gpu_layers = d.gpu_layers;
        threads = d.threads;
        use_mmap = d.use_mmap;
        batch_invariant = d.batch_invariant;
        image_cache_entries = d.image_cache_entries;
        lora_path = detail::opt_string(d.lora_path);
        lora_scale = d.lora_scale;
        image_max_tokens = d.image_max_tokens;
    }

    /// The C struct. Its `lora_path` points into this object's `lora_path` string: use
    /// the result only while this ModelParams is alive and unchanged (Model's
    /// constructor holds it by reference for the whole load call); a temporary
    /// ModelParams cannot be converted. Throws Error(VLMJUDGE_ERR_INVALID_ARGUMENT) for
    /// a path with a NUL byte.
    vlmjudge_model_params to_c() const & {
        vlmjudge_model_params p = detail::default_model_params();
        p.gpu_layers = gpu_layers;
        p.threads = threads;
        p.use_mmap = use_mmap;
        p.batch_invariant = batch_invariant;
        p.image_cache_entries = image_cache_entries;
        p.lora_path = lora_path ? detail::c_str(*lora_path, "LoRA path") : nullptr;
        p.lora_scale = lora_scale;
        p.image_max_tokens = image_max_tokens;
        return p;
    }
    // The C struct would point into a string about to be destroyed.
    vlmjudge_model_params to_c() const && = delete;
};

/// Settings of a judge session. A default-constructed JudgeParams holds the library's
/// defaults (vlmjudge_judge_params_init(): fast mode with swap debiasing). Like
/// ModelParams, it throws Error(VLMJUDGE_ERR_STRUCT_SIZE) on a header/library mismatch.
struct JudgeParams {
    Mode mode;
    bool swap;  // judge both presentation orders and average
    std::uint32_t max_tokens;  // most reasoning tokens per order (reason mode)
    float temperature;  // 0 = greedy
    std::uint32_t top_k;  // 0 = all
    float top_p;
    std::uint64_t seed;
    std::uint32_t threads;  // llama.cpp threads (0 = physical cores)
    std::uint32_t parallel;  // pairs in flight at once in judge_batch
    std::uint32_t ctx_per_seq;  // context positions per sequence

    JudgeParams() {
        const vlmjudge_judge_params d = detail::default_judge_params();
        mode = static_cast<Mode>(d.mode);
        swap = d.swap;
        max_tokens = d.max_tokens;
        temperature = d.temperature;
        top_k = d.top_k;
        top_p = d.top_p;
        seed = d.seed;
        threads = d.threads;
        parallel = d.parallel;
        ctx_per_seq = d.ctx_per_seq;
    }

    vlmjudge_judge_params to_c() const {
        vlmjudge_judge_params p = detail::default_judge_params();
        p.mode = static_cast<vlmjudge_mode>(mode);
        p.swap = swap;
        p.max_tokens = max_tokens;
        p.temperature = temperature;
        p.top_k = top_k;
        p.top_p = top_p;
        p.seed = seed;
        p.threads = threads;
        p.parallel = parallel;
        p.ctx_per_seq = ctx_per_seq;
        return p;
    }
};

/// One preference pair. Strings are UTF-8. An empty `id` lets the library use the
/// pair's index ("0" for a single pair; the position in a batch). `image` holds
/// encoded bytes (PNG, JPEG, WebP or GIF); std::nullopt makes a text-only pair (an
/// engaged but empty vector is an image of 0 bytes, reported on the verdict).
struct Pair {
    std::string id;
    std::string question;
    std::string response_a;
    std::string response_b;
    std::optional<std::vector<std::uint8_t>> image;

    static Pair text(std::string id, std::string question, std::string response_a,
                     std::string response_b) {
        Pair p;
        p.id = std::move(id);
        p.question = std::move(question);
        p.response_a = std::move(response_a);
        p.response_b = std::move(response_b);
        return p;
    }

    static Pair with_image(std::string id, std::string question, std::string response_a,
                           std::string response_b, std::vector<std::uint8_t> image) {
        Pair p = text(std::move(id), std::move(question), std::move(response_a),
                      std::move(response_b));
        p.image = std::move(image);
        return p;
    }
};

/// The verdict on one pair, copied out of the C verdict.
struct Verdict {
    std::string id;
    Choice choice = Choice::None;
    /// Probability that response A is better, averaged over the orders judged;
    /// nullopt when the pair failed.
    std::optional<double> p_a;
    /// Whether both orders preferred the same response; nullopt without swap or when
    /// the pair failed.
    std::optional<bool> consistent;
    /// The reasoning for presentation order 0 (as given) and 1 (swapped); nullopt in
    /// fast mode or for an order not judged.
    std::array<std::optional<std::string>, 2> reasoning;
    /// Why the pair could not be judged (e.g. an undecodable image); nullopt if it was.
    std::optional<std::string> error;
    /// The whole verdict as one JSON object, as the CLI writes it.
    std::string json;

    bool ok() const noexcept { return !error.has_value(); }

    /// Copies everything out of a live C verdict (which the caller still owns).
    static Verdict from_c(const vlmjudge_verdict *v) {
        Verdict out;
        out.id = vlmjudge_verdict_id(v);
        out.choice = static_cast<Choice>(vlmjudge_verdict_choice(v));
        const double p = vlmjudge_verdict_p_a(v);
        if (!std::isnan(p)) out.p_a = p;
        const std::int32_t c = vlmjudge_verdict_consistent(v);
        if (c >= 0) out.consistent = (c == 1);
        for (std::size_t order = 0; order < out.reasoning.size(); ++order)
            out.reasoning[order] = detail::opt_string(vlmjudge_verdict_reasoning(v, order));
        out.error = detail::opt_string(vlmjudge_verdict_error(v));
        out.json = vlmjudge_verdict_json(v);
        return out;
    }
};

/// A loaded model (GGUF, plus an optional mmproj for image pairs). Move-only.
/// Thread-safe: share one Model (by reference) between threads and Judges.
class Model {
public:
    /// Loads `model_path` and, if given, the multimodal projector `mmproj_path` and the
    /// LoRA adapter `params.lora_path`. Throws Error (VLMJUDGE_ERR_IO, _INVALID_GGUF,
    /// _MODEL_LOAD, _MMPROJ_LOAD, ...); a LoRA file that is not an adapter is
    /// _INVALID_GGUF, an adapter made for another model _MODEL_LOAD.
    explicit Model(const std::string &model_path,
                   const std::optional<std::string> &mmproj_path = std::nullopt,
                   const ModelParams &params = ModelParams()) {
        const char *path = detail::c_str(model_path, "model path");
        const char *mmproj = mmproj_path ? detail::c_str(*mmproj_path, "mmproj path") : nullptr;
        // Borrows params.lora_path, which outlives this call (params is a reference).
        const vlmjudge_model_params p = params.to_c();
        vlmjudge_model *raw = nullptr;
        detail::check(vlmjudge_model_load(path, mmproj, &p, &raw));
        handle_.reset(raw);
    }

    Model(Model &&) noexcept = default;
    Model &operator=(Model &&) noexcept = default;
    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;

    /// Whether an mmproj was loaded (image pairs can be judged). False when moved-from.
    bool has_vision() const noexcept { return vlmjudge_model_has_vision(handle_.get()); }
    /// False for a moved-from Model.
    explicit operator bool() const noexcept { return handle_ != nullptr; }
    /// The C handle (still owned by this object), for calling the C ABI directly.
    vlmjudge_model *get() const noexcept { return handle_.get(); }

private:
    std::unique_ptr<vlmjudge_model, detail::ModelDeleter> handle_;
};

/// A judging session on a Model. Move-only. Use from one thread at a time (it may move
/// between threads); open one Judge per thread to judge in parallel. Only cancel() may
/// be called from another thread while a call is in progress.
class Judge {
public:
    /// Progress of a batch: (pairs done, total). Return false to cancel the batch.
    using Progress = std::function<bool(std::size_t done, std::size_t total)>;

    /// Opens a judge on `model`; it keeps the model alive (the Model object may go
    /// first). Throws Error (VLMJUDGE_ERR_INVALID_ARGUMENT, _TEMPLATE, _ENGINE, ...).
    explicit Judge(const Model &model, const JudgeParams &params = JudgeParams()) {
        const vlmjudge_judge_params p = params.to_c();
        vlmjudge_judge *raw = nullptr;
        detail::check(vlmjudge_judge_new(model.get(), &p, &raw));
        handle_.reset(raw);
    }

    Judge(Judge &&) noexcept = default;
    Judge &operator=(Judge &&) noexcept = default;
    Judge(const Judge &) = delete;
    Judge &operator=(const Judge &) = delete;

    /// False for a moved-from Judge.
    explicit operator bool() const noexcept { return handle_ != nullptr; }
    vlmjudge_judge *get() const noexcept { return handle_.get(); }

    /// Asks this judge to stop: the judge() or judge_batch() in progress on it throws
    /// Error(VLMJUDGE_ERR_CANCELLED) soon after (mid-decode; an image being encoded
    /// finishes first) and returns no verdicts; with no call in progress, the next call
    /// throws it at once. The request is used up when that call returns, even if it
    /// finished before noticing it.
    ///
    /// The one thread-safe member: any thread may call it while another thread is
    /// inside judge() or judge_batch() on this Judge (e.g. a UI's cancel button), as
    /// long as the Judge is not destroyed, moved or assigned meanwhile. Throws
    /// Error(VLMJUDGE_ERR_NULL_ARGUMENT) on a moved-from Judge, and nothing otherwise.
    void cancel() const { detail::check(vlmjudge_judge_cancel(handle_.get())); }

    /// Judges one pair. A problem with the pair itself comes back on the Verdict;
    /// throws Error for a failed call (VLMJUDGE_ERR_INVALID_UTF8, _ENGINE, _CANCELLED
    /// after cancel(), ...).
    Verdict judge(const Pair &pair) {
        const vlmjudge_pair c = to_c(pair);
        vlmjudge_verdict *raw = nullptr;
        const vlmjudge_status status = vlmjudge_judge_pair(handle_.get(), &c, &raw);
        if (status != VLMJUDGE_OK) detail::throw_status(status);
        const std::unique_ptr<vlmjudge_verdict, detail::VerdictDeleter> owned(raw);
        return Verdict::from_c(owned.get());
    }

    /// Judges `pairs` with many in flight and returns their verdicts in input order.
    /// `progress`, if set, is called on this thread after each pair; returning false
    /// cancels the batch and throws Error(VLMJUDGE_ERR_CANCELLED), as does cancel()
    /// from another thread. An exception thrown by `progress` also cancels the batch
    /// and is rethrown here as it was thrown.
    std::vector<Verdict> judge_batch(const std::vector<Pair> &pairs, Progress progress = {}) {
        std::vector<vlmjudge_pair> c_pairs;
        c_pairs.reserve(pairs.size());
        for (const Pair &p : pairs) c_pairs.push_back(to_c(p));

        // Owns whatever the library writes, whatever happens next.
        struct Out {
            std::vector<vlmjudge_verdict *> ptrs;
            ~Out() {
                for (vlmjudge_verdict *v : ptrs) vlmjudge_verdict_free(v);
            }
        } out;
        out.ptrs.assign(pairs.size(), nullptr);

        ProgressState state{&progress, nullptr};
        const vlmjudge_status status = vlmjudge_judge_batch(
            handle_.get(), c_pairs.data(), c_pairs.size(), out.ptrs.data(),
            progress ? &vlmjudge_hpp_progress_trampoline : nullptr, &state);
        if (state.exception) std::rethrow_exception(state.exception);
        if (status != VLMJUDGE_OK) detail::throw_status(status);

        std::vector<Verdict> verdicts;
        verdicts.reserve(out.ptrs.size());
        for (const vlmjudge_verdict *v : out.ptrs) verdicts.push_back(Verdict::from_c(v));
        return verdicts;
    }

private:
    struct ProgressState {
        const Progress *fn;
        std::exception_ptr exception;
    };

    // The C callback. Catches everything: no exception may unwind into the library.
    // (vlmjudge.h declares vlmjudge_progress_callback outside its extern "C" block, so
    // a static member function has exactly that type in C++.)
    static int32_t vlmjudge_hpp_progress_trampoline(std::size_t done, std::size_t total,
                                                    void *user_data) noexcept {
        ProgressState *state = static_cast<ProgressState *>(user_data);
        try {
            return (*state->fn)(done, total) ? 1 : 0;
        } catch (...) {
            state->exception = std::current_exception();
            return 0;
        }
    }

    static vlmjudge_pair to_c(const Pair &p) {
        vlmjudge_pair c{};
        c.id = p.id.empty() ? nullptr : detail::c_str(p.id, "pair id");
        c.question = detail::c_str(p.question, "question");
        c.response_a = detail::c_str(p.response_a, "response_a");
        c.response_b = detail::c_str(p.response_b, "response_b");
        if (p.image) {
            // An empty vector's data() may be NULL, which the C ABI reads as "no
            // image"; point at a static byte instead so the library reports it.
            static const std::uint8_t empty = 0;
            c.image = p.image->empty() ? &empty : p.image->data();
            c.image_len = p.image->size();
        }
        return c;
    }

    std::unique_ptr<vlmjudge_judge, detail::JudgeDeleter> handle_;
};

}  // namespace vlmjudge

#endif  // VLMJUDGE_HPP
