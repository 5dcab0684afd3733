//! `vlmjudge_verdict`: the result for one pair, with accessors.

use std::ffi::{c_char, CString};

use super::boundary::guarded;
use crate::judge::{Choice, Verdict};

/// Which response a verdict prefers.
pub type vlmjudge_choice = i32;
pub const VLMJUDGE_CHOICE_A: vlmjudge_choice = 0;
pub const VLMJUDGE_CHOICE_B: vlmjudge_choice = 1;
/// p(A) is exactly 0.5, or, with reasoning, the two orders chose different responses.
pub const VLMJUDGE_CHOICE_TIE: vlmjudge_choice = 2;
/// No verdict (the pair failed; see `vlmjudge_verdict_error`).
pub const VLMJUDGE_CHOICE_NONE: vlmjudge_choice = 3;

/// The verdict on one pair. Immutable; owns every string its accessors return (valid
/// until `vlmjudge_verdict_free`). May be read from any thread.
pub struct vlmjudge_verdict {
    verdict: Verdict,
    id: CString,
    error: Option<CString>,
    reasoning: Vec<Option<CString>>,
    json: CString,
}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl vlmjudge_verdict {
    pub(crate) fn new(verdict: Verdict) -> vlmjudge_verdict {
        vlmjudge_verdict {
            id: c_string(&verdict.id),
            error: verdict.error.as_deref().map(c_string),
            reasoning: verdict.orders.iter().map(|o| o.reasoning.as_deref().map(c_string)).collect(),
            json: c_string(&serde_json::to_string(&verdict).unwrap_or_default()),
            verdict,
        }
    }
}

/// The preferred response (VLMJUDGE_CHOICE_NONE for NULL).
///
/// # Safety
/// `verdict` must be NULL or a live verdict.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_verdict_choice(verdict: *const vlmjudge_verdict) -> vlmjudge_choice {
    guarded(VLMJUDGE_CHOICE_NONE, || choice_code(verdict.as_ref().map(|v| v.verdict.verdict)))
}

fn choice_code(choice: Option<Choice>) -> vlmjudge_choice {
    match choice {
        Some(Choice::A) => VLMJUDGE_CHOICE_A,
        Some(Choice::B) => VLMJUDGE_CHOICE_B,
        Some(Choice::Tie) => VLMJUDGE_CHOICE_TIE,
        _ => VLMJUDGE_CHOICE_NONE,
    }
}

/// Probability that response A is better, averaged over the orders judged; NaN when
/// there is none (a failed pair, or NULL).
///
/// # Safety
/// `verdict` must be NULL or a live verdict.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_verdict_p_a(verdict: *const vlmjudge_verdict) -> f64 {
    guarded(f64::NAN, || verdict.as_ref().and_then(|v| v.verdict.p_a).unwrap_or(f64::NAN))
}

/// 1 if both orders preferred the same response, 0 if not, -1 when unknown (judged
/// without swap, a failed pair, or NULL).
///
/// # Safety
/// `verdict` must be NULL or a live verdict.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_verdict_consistent(verdict: *const vlmjudge_verdict) -> i32 {
    guarded(-1, || match verdict.as_ref().and_then(|v| v.verdict.consistent) {
        Some(true) => 1,
        Some(false) => 0,
        None => -1,
    })
}

/// How many presentation orders were judged: 2 with swap, 1 without, 0 for a failed
/// pair or NULL.
///
/// # Safety
/// `verdict` must be NULL or a live verdict.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_verdict_n_orders(verdict: *const vlmjudge_verdict) -> usize {
    guarded(0, || verdict.as_ref().map_or(0, |v| v.verdict.orders.len()))
}

/// p(A) from presentation order `order` alone (0 = as given, 1 = swapped), mapped back
/// to the given A; NaN when there is none.
///
/// # Safety
/// `verdict` must be NULL or a live verdict.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_verdict_order_p_a(verdict: *const vlmjudge_verdict, order: usize) -> f64 {
    guarded(f64::NAN, || {
        verdict.as_ref().and_then(|v| v.verdict.orders.get(order)).and_then(|o| o.p_a).unwrap_or(f64::NAN)
    })
}

/// The response presentation order `order` preferred, in the given A/B terms.
///
/// # Safety
/// `verdict` must be NULL or a live verdict.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_verdict_order_choice(
    verdict: *const vlmjudge_verdict,
    order: usize,
) -> vlmjudge_choice {
    guarded(VLMJUDGE_CHOICE_NONE, || {
        choice_code(verdict.as_ref().and_then(|v| v.verdict.orders.get(order)).map(|o| o.verdict))
    })
}

/// The judge's reasoning for presentation order `order` (0 = as given, 1 = swapped),
/// or NULL (fast mode, no such order, or NULL verdict).
///
/// # Safety
/// `verdict` must be NULL or a live verdict.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_verdict_reasoning(verdict: *const vlmjudge_verdict, order: usize) -> *const c_char {
    guarded(std::ptr::null(), || {
        verdict
            .as_ref()
            .and_then(|v| v.reasoning.get(order))
            .and_then(|r| r.as_ref())
            .map_or(std::ptr::null(), |r| r.as_ptr())
    })
}

/// Why the pair could not be judged (e.g. an undecodable image), or NULL when it was.
///
/// # Safety
/// `verdict` must be NULL or a live verdict.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_verdict_error(verdict: *const vlmjudge_verdict) -> *const c_char {
    guarded(std::ptr::null(), || {
        verdict.as_ref().and_then(|v| v.error.as_ref()).map_or(std::ptr::null(), |e| e.as_ptr())
    })
}

/// The pair's id ("" for NULL).
///
/// # Safety
/// `verdict` must be NULL or a live verdict.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_verdict_id(verdict: *const vlmjudge_verdict) -> *const c_char {
    guarded(c"".as_ptr(), || verdict.as_ref().map_or(c"".as_ptr(), |v| v.id.as_ptr()))
}

/// The whole verdict as one JSON object, as the CLI writes it (per-order results,
/// token counts, timing). "" for NULL.
///
/// # Safety
/// `verdict` must be NULL or a live verdict.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_verdict_json(verdict: *const vlmjudge_verdict) -> *const c_char {
    guarded(c"".as_ptr(), || verdict.as_ref().map_or(c"".as_ptr(), |v| v.json.as_ptr()))
}

/// Releases a verdict (NULL is a no-op).
///
/// # Safety
/// `verdict` must be NULL or a verdict from this library, not freed before.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_verdict_free(verdict: *mut vlmjudge_verdict) {
    guarded((), || {
        if !verdict.is_null() {
            drop(Box::from_raw(verdict));
        }
    })
}
