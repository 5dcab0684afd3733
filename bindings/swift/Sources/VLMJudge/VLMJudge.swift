// Swift wrapper over the vlmjudge C ABI (vlmjudge.h, imported as CVLMJudge).
//
// Thread safety (as in vlmjudge.h): a `Model` may be shared by any number of threads
// (it is Sendable); a `Judge` is used by one thread at a time (it may move between
// threads): open one Judge per thread on a shared Model to judge in parallel. The one
// exception is `Judge.cancel()`, which any thread may call while another is judging. A
// Judge keeps its model alive, so the Model may be released while Judges are in use.
// `Verdict` and `Pair` are values.
//
// Params: `ModelParams()` and `JudgeParams()` read the library's defaults through
// vlmjudge_*_params_init, which refuses (`.structSize`) a struct of another size than
// the library's, so they throw when the library was built from another vlmjudge.h.
//
// Errors: a failed C call throws `VLMJudgeError` with the message of
// vlmjudge_last_error_message(), read right after the call. A problem with one pair
// (empty text, undecodable image, image without mmproj, too long) is not thrown: the
// Verdict carries it in `error`.
//
// UNTESTED: no Swift toolchain was available where this was written; only the module
// map was checked (with clang -fmodules). See README.md.
import CVLMJudge

/// A failed call into vlmjudge: one case per status code, each with the library's
/// message.
public enum VLMJudgeError: Error, Equatable, CustomStringConvertible {
    case nullArgument(String)
    case invalidUTF8(String)
    /// Also thrown by the wrapper for a string with a NUL byte (C would cut it short).
    case invalidArgument(String)
    case structSize(String)
    case io(String)
    case invalidGGUF(String)
    case modelLoad(String)
    case mmprojLoad(String)
    case template(String)
    case engine(String)
    /// The progress callback returned false, or `Judge.cancel()` was called.
    case cancelled(String)
    case panic(String)
    case other(status: Int32, message: String)

    init(status: vlmjudge_status, message: String) {
        switch status {
        case VLMJUDGE_ERR_NULL_ARGUMENT: self = .nullArgument(message)
        case VLMJUDGE_ERR_INVALID_UTF8: self = .invalidUTF8(message)
        case VLMJUDGE_ERR_INVALID_ARGUMENT: self = .invalidArgument(message)
        case VLMJUDGE_ERR_STRUCT_SIZE: self = .structSize(message)
        case VLMJUDGE_ERR_IO: self = .io(message)
        case VLMJUDGE_ERR_INVALID_GGUF: self = .invalidGGUF(message)
        case VLMJUDGE_ERR_MODEL_LOAD: self = .modelLoad(message)
        case VLMJUDGE_ERR_MMPROJ_LOAD: self = .mmprojLoad(message)
        case VLMJUDGE_ERR_TEMPLATE: self = .template(message)
        case VLMJUDGE_ERR_ENGINE: self = .engine(message)
        case VLMJUDGE_ERR_CANCELLED: self = .cancelled(message)
        case VLMJUDGE_ERR_PANIC: self = .panic(message)
        default: self = .other(status: status, message: message)
        }
    }

    /// The C status code (VLMJUDGE_ERR_*).
    public var status: Int32 {
        switch self {
        case .nullArgument: return VLMJUDGE_ERR_NULL_ARGUMENT
        case .invalidUTF8: return VLMJUDGE_ERR_INVALID_UTF8
        case .invalidArgument: return VLMJUDGE_ERR_INVALID_ARGUMENT
        case .structSize: return VLMJUDGE_ERR_STRUCT_SIZE
        case .io: return VLMJUDGE_ERR_IO
        case .invalidGGUF: return VLMJUDGE_ERR_INVALID_GGUF
        case .modelLoad: return VLMJUDGE_ERR_MODEL_LOAD
        case .mmprojLoad: return VLMJUDGE_ERR_MMPROJ_LOAD
        case .template: return VLMJUDGE_ERR_TEMPLATE
        case .engine: return VLMJUDGE_ERR_ENGINE
        case .cancelled: return VLMJUDGE_ERR_CANCELLED
        case .panic: return VLMJUDGE_ERR_PANIC
        case .other(let status, _): return status
        }
    }

    public var message: String {
        switch self {
        case .nullArgument(let m), .invalidUTF8(let m), .invalidArgument(let m),
             .structSize(let m), .io(let m), .invalidGGUF(let m), .modelLoad(let m),
             .mmprojLoad(let m), .template(let m), .engine(let m), .cancelled(let m),
             .panic(let m):
            return m
        case .other(_, let m):
            return m
        }
    }

    public var description: String {
        "\(String(cString: vlmjudge_status_str(status))): \(message)"
    }
}

/// The error of the call that just returned `status` on this thread.
private func lastError(_ status: vlmjudge_status) -> VLMJudgeError {
    var message = String(cString: vlmjudge_last_error_message())
    if message.isEmpty { message = String(cString: vlmjudge_status_str(status)) }
    return VLMJudgeError(status: status, message: message)
}

private func withOptionalCString<R>(
    _ s: String?, _ body: (UnsafePointer<CChar>?) throws -> R
) rethrows -> R {
    guard let s = s else { return try body(nil) }
    return try s.withCString { try body($0) }
}

private func checkNoNUL(_ s: String, _ what: String) throws {
    if s.utf8.contains(0) { throw VLMJudgeError.invalidArgument("\(what) contains a NUL byte") }
}

/// The library version, e.g. "0.1.0".
public func libraryVersion() -> String { String(cString: vlmjudge_version()) }

/// A C params struct holding the library's defaults, written by its `_params_init`
/// function. The size given is the stride: C's sizeof counts the trailing padding
/// (vlmjudge_judge_params has 4 bytes of it), which `MemoryLayout.size` leaves out.
private func libraryDefaults<T>(
    _ empty: T, _ initialize: (UnsafeMutablePointer<T>, Int) -> vlmjudge_status
) throws -> T {
    var value = empty
    let status = withUnsafeMutablePointer(to: &value) { initialize($0, MemoryLayout<T>.stride) }
    guard status == VLMJUDGE_OK else { throw lastError(status) }
    return value
}

private func defaultModelParams() throws -> vlmjudge_model_params {
    try libraryDefaults(vlmjudge_model_params()) { vlmjudge_model_params_init($0, $1) }
}

private func defaultJudgeParams() throws -> vlmjudge_judge_params {
    try libraryDefaults(vlmjudge_judge_params()) { vlmjudge_judge_params_init($0, $1) }
}

/// How to load a model; `try ModelParams()` holds the library's defaults.
public struct ModelParams: Sendable {
    /// Layers to offload to a GPU (0 = CPU only).
    public var gpuLayers: UInt32
    /// Threads for the image encoder (0 = physical cores).
    public var threads: UInt32
    public var useMmap: Bool
    /// Results independent of what else is in a batch.
    public var batchInvariant: Bool
    /// Encoded images kept in memory (0 = no cache).
    public var imageCacheEntries: UInt32
    /// A LoRA adapter GGUF (e.g. from `vlmjudge train`) applied on top of the model, or
    /// nil (the default) for none. Read only while the model is being loaded.
    public var loraPath: String?
    /// Scale of the LoRA adapter (1 = as trained).
    public var loraScale: Float
    /// Most image embeddings one image may take (16...16384, or 0 for the mmproj's own
    /// limit); larger images are downscaled by projectors that resize or tile by size.
    public var imageMaxTokens: UInt32

    /// The library's defaults. Throws `.structSize` if the library was built from
    /// another vlmjudge.h than this package.
    public init() throws {
        let d = try defaultModelParams()
        gpuLayers = d.gpu_layers
        threads = d.threads
        useMmap = d.use_mmap
        batchInvariant = d.batch_invariant
        imageCacheEntries = d.image_cache_entries
        loraPath = d.lora_path.map { String(cString: $0) }
        loraScale = d.lora_scale
        imageMaxTokens = d.image_max_tokens
    }

    /// The C struct without `lora_path` (NULL): a C string pointer is only valid inside
    /// `withCString`, so `Model.init` sets it for the duration of the load call.
    func cValue() throws -> vlmjudge_model_params {
        var p = try defaultModelParams()
        p.gpu_layers = gpuLayers
        p.threads = threads
        p.use_mmap = useMmap
        p.batch_invariant = batchInvariant
        p.image_cache_entries = imageCacheEntries
        p.lora_scale = loraScale
        p.image_max_tokens = imageMaxTokens
        return p
    }
}

/// How a judge reaches its verdict.
public enum Mode: Int32, Sendable {
    /// Read p(A) from the logits after "[["; no generation.
    case fast = 0
    /// Write reasoning first, then the verdict.
    case reason = 1
}

/// Settings of a judge session; `try JudgeParams()` holds the library's defaults (fast
/// mode with swap debiasing).
public struct JudgeParams: Sendable {
    public var mode: Mode
    /// Judge both presentation orders and average.
    public var swap: Bool
    public var maxTokens: UInt32
    public var temperature: Float
    public var topK: UInt32
    public var topP: Float
    public var seed: UInt64
    /// llama.cpp threads (0 = physical cores).
    public var threads: UInt32
    /// Pairs in flight at once in `judgeBatch`.
    public var parallel: UInt32
    /// Context positions per sequence: prompt plus reasoning.
    public var ctxPerSeq: UInt32

    /// The library's defaults. Throws `.structSize` if the library was built from
    /// another vlmjudge.h than this package.
    public init() throws {
        let d = try defaultJudgeParams()
        mode = Mode(rawValue: d.mode) ?? .fast
        swap = d.swap
        maxTokens = d.max_tokens
        temperature = d.temperature
        topK = d.top_k
        topP = d.top_p
        seed = d.seed
        threads = d.threads
        parallel = d.parallel
        ctxPerSeq = d.ctx_per_seq
    }

    func cValue() throws -> vlmjudge_judge_params {
        var p = try defaultJudgeParams()
        p.mode = mode.rawValue
        p.swap = swap
        p.max_tokens = maxTokens
        p.temperature = temperature
        p.top_k = topK
        p.top_p = topP
        p.seed = seed
        p.threads = threads
        p.parallel = parallel
        p.ctx_per_seq = ctxPerSeq
        return p
    }
}

/// One preference pair. `id == nil` lets the library use the pair's index. `image`
/// holds encoded bytes (PNG, JPEG, WebP or GIF); nil makes a text-only pair.
public struct Pair: Sendable, Equatable {
    public var id: String?
    public var question: String
    public var responseA: String
    public var responseB: String
    public var image: [UInt8]?

    public init(id: String? = nil, question: String, responseA: String, responseB: String,
                image: [UInt8]? = nil) {
        self.id = id
        self.question = question
        self.responseA = responseA
        self.responseB = responseB
        self.image = image
    }
}

/// Which response a verdict prefers.
public enum Choice: Int32, Sendable {
    case a = 0
    case b = 1
    /// p(A) is exactly 0.5, or, with reasoning, the two orders chose different responses.
    case tie = 2
    /// The pair failed; see `Verdict.error`.
    case noVerdict = 3
}

extension Choice: CustomStringConvertible {
    /// "A", "B", "tie" or "none", as the CLI writes them.
    public var description: String {
        switch self {
        case .a: return "A"
        case .b: return "B"
        case .tie: return "tie"
        case .noVerdict: return "none"
        }
    }
}

/// The verdict on one pair, copied out of the C verdict (which is freed at once).
public struct Verdict: Sendable, Equatable {
    public let id: String
    public let choice: Choice
    /// Probability that response A is better; nil when the pair failed.
    public let pA: Double?
    /// Whether both orders agreed; nil without swap or when the pair failed.
    public let consistent: Bool?
    /// Reasoning for order 0 (as given) and 1 (swapped); nil in fast mode.
    public let reasoning: [String?]
    /// Why the pair could not be judged, or nil.
    public let error: String?
    /// The whole verdict as JSON, as the CLI writes it.
    public let json: String

    init(copying v: OpaquePointer) {
        id = String(cString: vlmjudge_verdict_id(v))
        choice = Choice(rawValue: vlmjudge_verdict_choice(v)) ?? .noVerdict
        let p = vlmjudge_verdict_p_a(v)
        pA = p.isNaN ? nil : p
        switch vlmjudge_verdict_consistent(v) {
        case 1: consistent = true
        case 0: consistent = false
        default: consistent = nil
        }
        var orders: [String?] = []
        for order in 0..<2 {
            if let r = vlmjudge_verdict_reasoning(v, order) {
                orders.append(String(cString: r))
            } else {
                orders.append(nil)
            }
        }
        reasoning = orders
        if let e = vlmjudge_verdict_error(v) { error = String(cString: e) } else { error = nil }
        json = String(cString: vlmjudge_verdict_json(v))
    }
}

/// A loaded model. Thread-safe: share it between threads and judges.
public final class Model: @unchecked Sendable {
    let handle: OpaquePointer

    /// Loads a GGUF model and, if given, its multimodal projector (needed for images) and
    /// the LoRA adapter `params.loraPath`; nil params are the library's defaults. A LoRA
    /// file that is not an adapter throws `.invalidGGUF`; an adapter made for another
    /// model, `.modelLoad`.
    public init(path: String, mmproj: String? = nil, params: ModelParams? = nil) throws {
        let settings = try params ?? ModelParams()
        try checkNoNUL(path, "model path")
        if let mmproj = mmproj { try checkNoNUL(mmproj, "mmproj path") }
        if let lora = settings.loraPath { try checkNoNUL(lora, "LoRA path") }
        var cParams = try settings.cValue()
        var out: OpaquePointer? = nil
        let status = path.withCString { cPath in
            withOptionalCString(mmproj) { cMmproj in
                withOptionalCString(settings.loraPath) { (cLora: UnsafePointer<CChar>?) -> vlmjudge_status in
                    // cLora is valid until this closure returns, after the load.
                    cParams.lora_path = cLora
                    return vlmjudge_model_load(cPath, cMmproj, &cParams, &out)
                }
            }
        }
        guard status == VLMJUDGE_OK, let handle = out else { throw lastError(status) }
        self.handle = handle
    }

    deinit { vlmjudge_model_free(handle) }

    /// Whether an mmproj was loaded, so image pairs can be judged.
    public var hasVision: Bool { vlmjudge_model_has_vision(handle) }
}

/// C copies of pairs' strings and images, alive as long as this object.
private final class CPairStorage {
    private var buffers: [UnsafeMutablePointer<UInt8>] = []

    deinit { for b in buffers { b.deallocate() } }

    private func copy(_ bytes: [UInt8], terminate: Bool) -> UnsafeMutablePointer<UInt8> {
        let count = bytes.count + (terminate ? 1 : 0)
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(count, 1))
        buffers.append(p)
        p.initialize(repeating: 0, count: max(count, 1))
        bytes.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { p.update(from: base, count: src.count) }
        }
        return p
    }

    private func cString(_ s: String, _ what: String) throws -> UnsafePointer<CChar> {
        try checkNoNUL(s, what)
        let p = copy(Array(s.utf8), terminate: true)
        return UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self)
    }

    func cPair(_ pair: Pair) throws -> vlmjudge_pair {
        var c = vlmjudge_pair()
        if let id = pair.id { c.id = try cString(id, "pair id") }
        c.question = try cString(pair.question, "question")
        c.response_a = try cString(pair.responseA, "responseA")
        c.response_b = try cString(pair.responseB, "responseB")
        if let image = pair.image {
            // Never NULL, even for 0 bytes, so the library reports an empty image.
            c.image = UnsafePointer(copy(image, terminate: false))
            c.image_len = image.count
        }
        return c
    }
}

/// Holds a batch's progress closure and whatever it threw. Errors never cross into C:
/// the C callback catches them, cancels the batch, and judgeBatch rethrows them.
private final class ProgressBox {
    let body: (Int, Int) throws -> Bool
    var error: Error?

    init(_ body: @escaping (Int, Int) throws -> Bool) { self.body = body }

    func call(_ done: Int, _ total: Int) -> Bool {
        do {
            return try body(done, total)
        } catch {
            self.error = error
            return false
        }
    }
}

/// A judging session. Use from one thread at a time; open one per thread. Only
/// `cancel()` may be called from another thread while a call is running.
public final class Judge {
    let handle: OpaquePointer

    /// Opens a judge on `model`; the judge keeps the model alive. nil params are the
    /// library's defaults.
    public init(model: Model, params: JudgeParams? = nil) throws {
        var cParams = try (params ?? JudgeParams()).cValue()
        var out: OpaquePointer? = nil
        let status = vlmjudge_judge_new(model.handle, &cParams, &out)
        guard status == VLMJUDGE_OK, let handle = out else { throw lastError(status) }
        self.handle = handle
    }

    deinit { vlmjudge_judge_free(handle) }

    /// Asks this judge to stop: the `judge` or `judgeBatch` running on it throws
    /// `VLMJudgeError.cancelled` soon after (mid-decode; an image being encoded finishes
    /// first) and returns no verdicts; with no call running, the next call throws it at
    /// once. The request is used up when that call returns, even by a call that
    /// finished before noticing it.
    ///
    /// The one thread-safe method: call it from any thread (e.g. a UI's cancel button)
    /// while another thread is inside `judge` or `judgeBatch`; keep a reference to the
    /// Judge meanwhile. It cannot fail (the C call fails only for a NULL handle).
    public func cancel() {
        _ = vlmjudge_judge_cancel(handle)
    }

    /// Judges one pair. A problem with the pair itself is on the verdict, not thrown.
    public func judge(_ pair: Pair) throws -> Verdict {
        let storage = CPairStorage()
        var cPair = try storage.cPair(pair)
        var out: OpaquePointer? = nil
        let status = withExtendedLifetime(storage) {
            vlmjudge_judge_pair(handle, &cPair, &out)
        }
        guard status == VLMJUDGE_OK, let verdict = out else { throw lastError(status) }
        defer { vlmjudge_verdict_free(verdict) }
        return Verdict(copying: verdict)
    }

    /// Judges `pairs` with many in flight; verdicts come back in input order.
    /// `progress(done, total)` runs on this thread after each pair; returning false
    /// throws `VLMJudgeError.cancelled` (as does `cancel()` from another thread), and an
    /// error it throws cancels the batch and is rethrown here unchanged.
    public func judgeBatch(
        _ pairs: [Pair], progress: ((Int, Int) throws -> Bool)? = nil
    ) throws -> [Verdict] {
        let storage = CPairStorage()
        let cPairs = try pairs.map { try storage.cPair($0) }
        var out = [OpaquePointer?](repeating: nil, count: pairs.count)
        let box = progress.map { ProgressBox($0) }
        var callback: vlmjudge_progress_callback? = nil
        if box != nil {
            callback = { done, total, userData in
                guard let userData = userData else { return 0 }
                return Unmanaged<ProgressBox>.fromOpaque(userData).takeUnretainedValue()
                    .call(done, total) ? 1 : 0
            }
        }
        let userData = box.map { Unmanaged.passUnretained($0).toOpaque() }
        let status = withExtendedLifetime((storage, box)) {
            vlmjudge_judge_batch(handle, cPairs, cPairs.count, &out, callback, userData)
        }
        defer { for v in out { vlmjudge_verdict_free(v) } }
        if let error = box?.error { throw error }
        guard status == VLMJUDGE_OK else { throw lastError(status) }
        return out.map { Verdict(copying: $0!) }
    }
}
