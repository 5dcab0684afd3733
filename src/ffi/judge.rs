//! `vlmjudge_judge`: a judging session, and the pair it judges.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::boundary::*;
use super::model::vlmjudge_model;
use super::verdict::vlmjudge_verdict;
use crate::engine::{CancelFlag, ImageLimits, Model};
use crate::judge::{ImageSource, Judge, JudgeParams, Mode, Pair, SamplingParams, Verdict};

/// How a judge reaches its verdict.
pub type vlmjudge_mode = i32;
/// Read the verdict from the logits after `[[`; no generation.
pub const VLMJUDGE_MODE_FAST: vlmjudge_mode = 0;
/// Write reasoning first, then the verdict.
pub const VLMJUDGE_MODE_REASON: vlmjudge_mode = 1;

/// Settings of a judge session: initialise one with `vlmjudge_judge_params_init()`
/// (or `vlmjudge_judge_default_params()`) and change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vlmjudge_judge_params {
    /// `sizeof(vlmjudge_judge_params)`, set by the initialiser.
    pub struct_size: usize,
    /// VLMJUDGE_MODE_FAST (default) or VLMJUDGE_MODE_REASON.
    pub mode: vlmjudge_mode,
    /// Judge both presentation orders and average (default true).
    pub swap: bool,
    /// Most reasoning tokens per order in reason mode (default 256).
    pub max_tokens: u32,
    /// Sampling temperature for reasoning; 0 is greedy (default).
    pub temperature: f32,
    /// Keep the k most likely tokens when sampling (0 = all; default 50).
    pub top_k: u32,
    /// Nucleus sampling threshold (default 0.9).
    pub top_p: f32,
    /// Seed of the sampler (with the pair id and order, so results do not depend on
    /// batch order). Default 0.
    pub seed: u64,
    /// llama.cpp threads (0 = physical cores, the default; at most 512).
    pub threads: u32,
    /// Pairs in flight at once in `vlmjudge_judge_batch` (default 8).
    pub parallel: u32,
    /// KV cells per sequence: one order's prompt (image included) plus reasoning
    /// (default 1024; 16 to 131072).
    pub ctx_per_seq: u32,
}

/// The default judge params: fast mode with swap debiasing.
#[no_mangle]
pub extern "C" fn vlmjudge_judge_default_params() -> vlmjudge_judge_params {
    let d = JudgeParams::default();
    vlmjudge_judge_params {
        struct_size: std::mem::size_of::<vlmjudge_judge_params>(),
        mode: VLMJUDGE_MODE_FAST,
        swap: d.swap,
        max_tokens: d.max_tokens,
        temperature: d.sampling.temperature,
        top_k: d.sampling.top_k as u32,
        top_p: d.sampling.top_p,
        seed: d.seed,
        threads: d.threads as u32,
        parallel: d.parallel as u32,
        ctx_per_seq: d.ctx_per_seq,
    }
}

/// Writes the default judge params to `*params`, a struct of `size` bytes: pass
/// `sizeof(vlmjudge_judge_params)`. Nothing is written unless `size` is this library's
/// size, so a program built against another version's header gets
/// VLMJUDGE_ERR_STRUCT_SIZE instead of a struct written past its end. Prefer it to
/// `vlmjudge_judge_default_params()`, which returns the library's struct by value.
///
/// Returns VLMJUDGE_OK, VLMJUDGE_ERR_NULL_ARGUMENT or VLMJUDGE_ERR_STRUCT_SIZE.
/// Thread-safe.
///
/// # Safety
/// `params` must be NULL or point to `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_judge_params_init(
    params: *mut vlmjudge_judge_params,
    size: usize,
) -> vlmjudge_status {
    boundary(|| {
        out_arg(params, "params")?;
        check_size::<vlmjudge_judge_params>(size, "size")?;
        params.write(vlmjudge_judge_default_params());
        Ok(())
    })
}

/// One preference pair. Strings are UTF-8 and NUL-terminated; they are copied, so they
/// need to live only during the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vlmjudge_pair {
    /// An id echoed in the verdict (any string, "" included); NULL gives the pair's
    /// index in the batch ("0" for a single pair).
    pub id: *const c_char,
    pub question: *const c_char,
    pub response_a: *const c_char,
    pub response_b: *const c_char,
    /// Encoded image bytes (PNG, JPEG, WebP or GIF), or NULL for a text-only pair. A
    /// non-NULL pointer with `image_len` 0 is an empty image (an error on the verdict);
    /// NULL with `image_len` > 0 is VLMJUDGE_ERR_NULL_ARGUMENT.
    pub image: *const u8,
    pub image_len: usize,
}

/// A judging session. Use from one thread at a time (it may move between threads);
/// open one judge per thread to judge in parallel on a shared model.
pub struct vlmjudge_judge {
    // Declared before `_model` so it is dropped first: it borrows the model.
    judge: Judge<'static>,
    _model: Arc<Model>,
    /// Shared with `judge`; read by `vlmjudge_judge_cancel` from other threads, so the
    /// judging calls borrow only the `judge` field, never the whole handle.
    cancel: CancelFlag,
}

/// The judge inside a handle, borrowed without the cancel flag that another thread
/// may be reading.
///
/// # Safety
/// `judge` must be NULL or a live handle not used by another judging call.
unsafe fn judge_arg<'a>(judge: *mut vlmjudge_judge) -> FfiResult<&'a mut Judge<'static>> {
    if judge.is_null() {
        return Err(Failure(VLMJUDGE_ERR_NULL_ARGUMENT, "judge is NULL".into()));
    }
    Ok(&mut *std::ptr::addr_of_mut!((*judge).judge))
}

/// Called after each pair in a batch with the number done so far; return nonzero to go
/// on, 0 to cancel the rest. (An int, not a bool: any value a host returns is defined.)
pub type vlmjudge_progress_callback =
    Option<unsafe extern "C" fn(done: usize, total: usize, user_data: *mut c_void) -> i32>;

fn judge_params(p: &vlmjudge_judge_params) -> FfiResult<JudgeParams> {
    check_size::<vlmjudge_judge_params>(p.struct_size, "params.struct_size")?;
    let mode = match p.mode {
        VLMJUDGE_MODE_FAST => Mode::Fast,
        VLMJUDGE_MODE_REASON => Mode::Reason,
        other => return Err(Failure(VLMJUDGE_ERR_INVALID_ARGUMENT, format!("params.mode {other} is not a mode"))),
    };
    if !(p.temperature >= 0.0 && p.top_p > 0.0 && p.top_p <= 1.0) {
        return Err(Failure(VLMJUDGE_ERR_INVALID_ARGUMENT, "temperature must be >= 0 and top_p in (0, 1]".into()));
    }
    Ok(JudgeParams {
        mode,
        swap: p.swap,
        max_tokens: p.max_tokens,
        sampling: SamplingParams { temperature: p.temperature, top_k: p.top_k as usize, top_p: p.top_p },
        seed: p.seed,
        threads: p.threads as usize,
        parallel: p.parallel as usize,
        ctx_per_seq: p.ctx_per_seq,
        ..JudgeParams::default()
    })
}

/// Opens a judge on `model`; `params` may be NULL for the defaults. On success writes
/// a new handle to `*out` (free it with `vlmjudge_judge_free`). The judge keeps the
/// model alive.
///
/// Returns VLMJUDGE_OK, VLMJUDGE_ERR_NULL_ARGUMENT, VLMJUDGE_ERR_STRUCT_SIZE,
/// VLMJUDGE_ERR_INVALID_ARGUMENT, VLMJUDGE_ERR_TEMPLATE (model without chat template),
/// VLMJUDGE_ERR_ENGINE (context allocation failed) or VLMJUDGE_ERR_PANIC. Thread-safe.
///
/// # Safety
/// `model` must be a live handle, `params` NULL or valid, `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_judge_new(
    model: *const vlmjudge_model,
    params: *const vlmjudge_judge_params,
    out: *mut *mut vlmjudge_judge,
) -> vlmjudge_status {
    boundary(|| {
        let model = arg(model, "model")?;
        out_arg(out, "out")?;
        let params = match params.as_ref() {
            Some(p) => judge_params(p)?,
            None => judge_params(&vlmjudge_judge_default_params())?,
        };
        let model = Arc::clone(&model.model);
        // SAFETY: the Arc stored beside the judge keeps the model alive for as long as
        // the judge exists, and the judge is dropped first (field order).
        let borrowed: &'static Model = &*Arc::as_ptr(&model);
        let judge = Judge::new(borrowed, params)?;
        let cancel = judge.cancel_flag();
        *out = Box::into_raw(Box::new(vlmjudge_judge { judge, _model: model, cancel }));
        Ok(())
    })
}

/// Releases a judge (NULL is a no-op).
///
/// # Safety
/// `judge` must be NULL or a handle from `vlmjudge_judge_new`, not freed before and not
/// in use on another thread.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_judge_free(judge: *mut vlmjudge_judge) {
    guarded((), || {
        if !judge.is_null() {
            drop(Box::from_raw(judge));
        }
    })
}

/// Asks `judge` to stop. The judging call in progress on it returns
/// VLMJUDGE_ERR_CANCELLED soon after (within one step of llama.cpp's decode; an image
/// being encoded finishes first), writing no verdicts; if no call is in progress, the
/// next one returns VLMJUDGE_ERR_CANCELLED at once. The request is used up when the
/// call returns, including a call that finished before it noticed the request.
///
/// The one function that may be called on a judge while another thread is inside
/// `vlmjudge_judge_pair` or `vlmjudge_judge_batch` on it (e.g. from a UI's cancel
/// button). Returns VLMJUDGE_OK or VLMJUDGE_ERR_NULL_ARGUMENT.
///
/// # Safety
/// `judge` must be NULL or a live handle that is not freed during the call.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_judge_cancel(judge: *const vlmjudge_judge) -> vlmjudge_status {
    boundary(|| {
        if judge.is_null() {
            return Err(Failure(VLMJUDGE_ERR_NULL_ARGUMENT, "judge is NULL".into()));
        }
        // Only the flag is read: a judging call may hold the `judge` field mutably.
        (*std::ptr::addr_of!((*judge).cancel)).cancel();
        Ok(())
    })
}

/// A C pair as read: to be judged, or already answered because of a problem found
/// before its data was copied.
enum Input {
    Judge(Pair),
    Answered(Verdict),
}

/// Copies a C pair into a library pair; `index` names it in messages and is its
/// default id.
unsafe fn read_pair(pair: &vlmjudge_pair, index: usize) -> FfiResult<Input> {
    let field = |ptr, name: &str| str_arg(ptr, &format!("pair {index}: {name}")).map(str::to_string);
    let id = if pair.id.is_null() { index.to_string() } else { field(pair.id, "id")? };
    let (question, response_a, response_b) = (
        field(pair.question, "question")?,
        field(pair.response_a, "response_a")?,
        field(pair.response_b, "response_b")?,
    );
    let image = if pair.image.is_null() {
        if pair.image_len != 0 {
            return Err(Failure(
                VLMJUDGE_ERR_NULL_ARGUMENT,
                format!("pair {index}: image is NULL but image_len is {}", pair.image_len),
            ));
        }
        None
    } else if let Err(reason) = ImageLimits::default().check_file_size(pair.image_len as u64) {
        // Answered before the host's buffer is copied.
        return Ok(Input::Answered(Verdict::failed(id, reason)));
    } else {
        let bytes = std::slice::from_raw_parts(pair.image, pair.image_len);
        Some(ImageSource::Bytes(Arc::from(bytes)))
    };
    Ok(Input::Judge(Pair { id, question, response_a, response_b, image }))
}

/// Judges one pair and writes a new verdict to `*out` (free it with
/// `vlmjudge_verdict_free`). A problem with the pair itself (empty text, an
/// undecodable image, an image without mmproj, too long for the context) is not a
/// failed call: the verdict carries it (`vlmjudge_verdict_error`).
///
/// Returns VLMJUDGE_OK, VLMJUDGE_ERR_NULL_ARGUMENT, VLMJUDGE_ERR_INVALID_UTF8,
/// VLMJUDGE_ERR_CANCELLED (`vlmjudge_judge_cancel`), VLMJUDGE_ERR_ENGINE or
/// VLMJUDGE_ERR_PANIC.
///
/// # Safety
/// `judge` must be a live handle not used concurrently; `pair` valid; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_judge_pair(
    judge: *mut vlmjudge_judge,
    pair: *const vlmjudge_pair,
    out: *mut *mut vlmjudge_verdict,
) -> vlmjudge_status {
    boundary(|| {
        let judge = judge_arg(judge)?;
        let input = read_pair(arg(pair, "pair")?, 0)?;
        out_arg(out, "out")?;
        let verdict = match input {
            Input::Judge(pair) => judge.judge_pair(&pair)?,
            Input::Answered(verdict) => verdict,
        };
        *out = Box::into_raw(Box::new(vlmjudge_verdict::new(verdict)));
        Ok(())
    })
}

/// Judges `n` pairs with many in flight and, on success, writes `n` new verdicts to
/// `verdicts_out[0..n]` in input order (free each with `vlmjudge_verdict_free`). Each
/// pair's own problem is reported on its verdict, not as a failed batch.
/// `progress` (may be NULL) is called on this thread after each pair; returning 0
/// cancels the batch: VLMJUDGE_ERR_CANCELLED and nothing is written (as after
/// `vlmjudge_judge_cancel` from another thread).
///
/// Returns VLMJUDGE_OK, VLMJUDGE_ERR_NULL_ARGUMENT (`pairs` or `verdicts_out` NULL
/// with n > 0, or a NULL string), VLMJUDGE_ERR_INVALID_UTF8, VLMJUDGE_ERR_CANCELLED,
/// VLMJUDGE_ERR_ENGINE or VLMJUDGE_ERR_PANIC.
///
/// # Safety
/// `judge` must be a live handle not used concurrently; `pairs` must hold `n` pairs
/// and `verdicts_out` room for `n` pointers.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_judge_batch(
    judge: *mut vlmjudge_judge,
    pairs: *const vlmjudge_pair,
    n: usize,
    verdicts_out: *mut *mut vlmjudge_verdict,
    progress: vlmjudge_progress_callback,
    user_data: *mut c_void,
) -> vlmjudge_status {
    boundary(|| {
        let judge = judge_arg(judge)?;
        if n == 0 {
            return Ok(());
        }
        let pairs = std::slice::from_raw_parts(arg(pairs, "pairs")?, n);
        out_arg(verdicts_out, "verdicts_out")?;
        let inputs = pairs.iter().enumerate().map(|(i, p)| read_pair(p, i)).collect::<FfiResult<Vec<_>>>()?;
        let mut verdicts: Vec<Option<Verdict>> = vec![None; n];
        // Pairs answered while reading count as done first; the rest are judged, and
        // `positions` maps their index in `to_judge` back to the caller's.
        let (mut to_judge, mut positions) = (Vec::new(), Vec::new());
        for (i, input) in inputs.into_iter().enumerate() {
            match input {
                Input::Judge(pair) => {
                    to_judge.push(pair);
                    positions.push(i);
                }
                Input::Answered(verdict) => verdicts[i] = Some(verdict),
            }
        }
        let mut done = 0;
        // SAFETY: the host's callback, called on this thread as documented.
        let report = |done: usize| progress.is_none_or(|cb| unsafe { cb(done, n, user_data) } != 0);
        for _ in 0..n - to_judge.len() {
            done += 1;
            if !report(done) {
                return Err(crate::Error::Cancelled.into());
            }
        }
        judge.judge_batch(&to_judge, |i, v| {
            verdicts[positions[i]] = Some(v);
            done += 1;
            report(done)
        })?;
        for (i, v) in verdicts.into_iter().enumerate() {
            let v = v.ok_or_else(|| Failure(VLMJUDGE_ERR_ENGINE, format!("pair {i} got no verdict")))?;
            *verdicts_out.add(i) = Box::into_raw(Box::new(vlmjudge_verdict::new(v)));
        }
        Ok(())
    })
}
