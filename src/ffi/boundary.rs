//! Status codes, the calling thread's last error, the panic boundary, and pointer and
//! string checks shared by every exported function.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

/// A status code. Codes are grouped in ranges and never reused.
pub type vlmjudge_status = i32;

/// Success.
pub const VLMJUDGE_OK: vlmjudge_status = 0;
/// A required pointer argument was NULL.
pub const VLMJUDGE_ERR_NULL_ARGUMENT: vlmjudge_status = 100;
/// A string argument was not valid UTF-8.
pub const VLMJUDGE_ERR_INVALID_UTF8: vlmjudge_status = 101;
/// An argument was out of range or inconsistent.
pub const VLMJUDGE_ERR_INVALID_ARGUMENT: vlmjudge_status = 102;
/// A params struct's `struct_size` does not match this library's.
pub const VLMJUDGE_ERR_STRUCT_SIZE: vlmjudge_status = 103;
/// A file could not be read.
pub const VLMJUDGE_ERR_IO: vlmjudge_status = 200;
/// A file is not a usable GGUF (not GGUF, truncated, corrupt).
pub const VLMJUDGE_ERR_INVALID_GGUF: vlmjudge_status = 201;
/// llama.cpp could not load the model.
pub const VLMJUDGE_ERR_MODEL_LOAD: vlmjudge_status = 202;
/// The mmproj cannot be loaded: llama.cpp refused it, or it is corrupt or does not fit the model.
pub const VLMJUDGE_ERR_MMPROJ_LOAD: vlmjudge_status = 203;
/// The prompt template or the model's chat template is unusable.
pub const VLMJUDGE_ERR_TEMPLATE: vlmjudge_status = 204;
/// llama.cpp failed while judging (out of memory, decode failure).
pub const VLMJUDGE_ERR_ENGINE: vlmjudge_status = 300;
/// The progress callback asked to stop.
pub const VLMJUDGE_ERR_CANCELLED: vlmjudge_status = 301;
/// A bug inside vlmjudge was caught at the boundary; the message has the details.
pub const VLMJUDGE_ERR_PANIC: vlmjudge_status = 900;

/// A failure: the status to return and the message for `vlmjudge_last_error_message`.
pub(crate) struct Failure(pub vlmjudge_status, pub String);

impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Failure {
        use crate::Error as E;
        // Every variant by name: a new one must choose its status here.
        let status = match &e {
            E::Io { .. } => VLMJUDGE_ERR_IO,
            E::InvalidGguf { .. } => VLMJUDGE_ERR_INVALID_GGUF,
            E::ModelLoad { .. } => VLMJUDGE_ERR_MODEL_LOAD,
            E::MmprojLoad { .. } => VLMJUDGE_ERR_MMPROJ_LOAD,
            E::MissingChatTemplate | E::Template(_) => VLMJUDGE_ERR_TEMPLATE,
            E::InvalidArgument(_) | E::InvalidInput { .. } => VLMJUDGE_ERR_INVALID_ARGUMENT,
            E::Cancelled => VLMJUDGE_ERR_CANCELLED,
            E::Engine(_) | E::Json { .. } => VLMJUDGE_ERR_ENGINE,
            // The loop's and the tools' errors never come out of the runtime's calls;
            // they exist only in builds with those features.
            #[cfg(feature = "hub")]
            E::Hub(_) => VLMJUDGE_ERR_ENGINE,
            #[cfg(feature = "train")]
            E::Train(_) | E::Quantize { .. } => VLMJUDGE_ERR_ENGINE,
            #[cfg(feature = "loop")]
            E::Round { .. } | E::RoundState { .. } => VLMJUDGE_ERR_ENGINE,
        };
        Failure(status, e.to_string())
    }
}

pub(crate) type FfiResult<T = ()> = Result<T, Failure>;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    /// Depth of boundary calls on this thread: panics inside are reported through the
    /// status and message, not printed on the host's stderr.
    static INSIDE: Cell<u32> = const { Cell::new(0) };
    /// Where the last panic inside the boundary happened.
    static PANIC_AT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Installs (once) a panic hook that keeps panics inside the boundary off stderr and
/// records their location; panics elsewhere go to the previous hook as before.
fn quiet_panics_inside() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if INSIDE.with(Cell::get) > 0 {
                let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                PANIC_AT.with(|p| *p.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

fn set_last_error(message: &str) {
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = message);
}

/// Runs `body` inside the panic boundary and turns its result into a status.
pub(crate) fn boundary(body: impl FnOnce() -> FfiResult) -> vlmjudge_status {
    quiet_panics_inside();
    INSIDE.with(|d| d.set(d.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(body));
    INSIDE.with(|d| d.set(d.get() - 1));
    match result {
        Ok(Ok(())) => VLMJUDGE_OK,
        Ok(Err(Failure(status, message))) => {
            set_last_error(&message);
            status
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let at = PANIC_AT.with(|p| std::mem::take(&mut *p.borrow_mut()));
            set_last_error(&format!("internal error (panic{at}): {what}"));
            VLMJUDGE_ERR_PANIC
        }
    }
}

/// Runs an infallible accessor inside the panic boundary, with `fallback` on a panic.
pub(crate) fn guarded<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    quiet_panics_inside();
    INSIDE.with(|d| d.set(d.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback);
    INSIDE.with(|d| d.set(d.get() - 1));
    result
}

/// Borrows the object behind a handle argument.
///
/// # Safety
/// `ptr` must be NULL or point to a live `T` created by this library.
pub(crate) unsafe fn arg<'a, T>(ptr: *const T, name: &str) -> FfiResult<&'a T> {
    ptr.as_ref().ok_or_else(|| Failure(VLMJUDGE_ERR_NULL_ARGUMENT, format!("{name} is NULL")))
}

/// Checks an output pointer.
pub(crate) fn out_arg<T>(ptr: *mut T, name: &str) -> FfiResult<()> {
    if ptr.is_null() {
        return Err(Failure(VLMJUDGE_ERR_NULL_ARGUMENT, format!("{name} is NULL")));
    }
    Ok(())
}

/// Reads a required UTF-8 string argument.
///
/// # Safety
/// `ptr` must be NULL or a NUL-terminated string that stays valid during the call.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(Failure(VLMJUDGE_ERR_NULL_ARGUMENT, format!("{name} is NULL")));
    }
    CStr::from_ptr(ptr)
        .to_str()
        .map_err(|e| Failure(VLMJUDGE_ERR_INVALID_UTF8, format!("{name} is not valid UTF-8 ({e})")))
}

/// Checks the size a caller gives for a params struct (`what` names where it came
/// from, e.g. `params.struct_size`) against this library's.
pub(crate) fn check_size<T>(given: usize, what: &str) -> FfiResult<()> {
    let expected = std::mem::size_of::<T>();
    if given != expected {
        return Err(Failure(
            VLMJUDGE_ERR_STRUCT_SIZE,
            format!(
                "{what} is {given} but this library's struct is {expected} bytes: the header you compile against \
                 belongs to another vlmjudge version"
            ),
        ));
    }
    Ok(())
}

/// The library version, e.g. `"0.1.0"` (equal to `VLMJUDGE_VERSION`). Static storage.
#[no_mangle]
pub extern "C" fn vlmjudge_version() -> *const c_char {
    static VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"",
    };
    VERSION.as_ptr()
}

/// A short, static description of a status code (`"ok"`, `"NULL argument"`, ...);
/// unknown codes give `"unknown status"`.
#[no_mangle]
pub extern "C" fn vlmjudge_status_str(status: vlmjudge_status) -> *const c_char {
    let text: &CStr = match status {
        VLMJUDGE_OK => c"ok",
        VLMJUDGE_ERR_NULL_ARGUMENT => c"NULL argument",
        VLMJUDGE_ERR_INVALID_UTF8 => c"invalid UTF-8",
        VLMJUDGE_ERR_INVALID_ARGUMENT => c"invalid argument",
        VLMJUDGE_ERR_STRUCT_SIZE => c"struct_size mismatch",
        VLMJUDGE_ERR_IO => c"I/O error",
        VLMJUDGE_ERR_INVALID_GGUF => c"invalid GGUF file",
        VLMJUDGE_ERR_MODEL_LOAD => c"model load failed",
        VLMJUDGE_ERR_MMPROJ_LOAD => c"mmproj load failed",
        VLMJUDGE_ERR_TEMPLATE => c"template error",
        VLMJUDGE_ERR_ENGINE => c"engine error",
        VLMJUDGE_ERR_CANCELLED => c"cancelled",
        VLMJUDGE_ERR_PANIC => c"internal error (panic)",
        _ => c"unknown status",
    };
    text.as_ptr()
}

/// The message of the last failed call on the calling thread (`""` if none). Owned by
/// the library; valid until the next failing vlmjudge call on this thread.
#[no_mangle]
pub extern "C" fn vlmjudge_last_error_message() -> *const c_char {
    guarded(c"".as_ptr(), || LAST_ERROR.with(|last| last.borrow().as_ptr()))
}

/// For binding test suites only: panics inside the boundary, so a test can check that
/// the panic comes back as `VLMJUDGE_ERR_PANIC` with a message and never unwinds into
/// the caller. Only in libraries built with the `test-hooks` feature (declared when
/// `VLMJUDGE_TEST_HOOKS` is defined before including this header).
#[cfg(feature = "test-hooks")]
#[no_mangle]
pub extern "C" fn vlmjudge_test_panic() -> vlmjudge_status {
    boundary(|| panic!("vlmjudge_test_panic was called"))
}
