//! Routes llama.cpp's and mtmd's log output.
//!
//! By default nothing reaches stderr: a library must not write to its host's terminal.
//! A host can install a sink ([`set_log_sink`]); the CLI installs one for `--verbose`.
//! Independently, error and warning lines logged on the current thread are captured
//! while a [`Capture`] is alive, so a failed model load can say *why* it failed.
//!
//! Re-entry: a host's sink may call back into the library (open a judge, encode an
//! image), and llama.cpp logs while the library holds its own locks (the context
//! creation lock, an mmproj's encoder lock). Were the line handed to the sink right
//! there, a sink that takes the same lock would wait for itself forever. So while a
//! [`Defer`] guard is alive on a thread (taken before such a lock, dropped after it),
//! that thread's lines wait in a queue and are delivered when its outermost guard
//! drops, with no lock held. Lines a thread logs while it is inside the sink wait too,
//! and are delivered when the sink returns: the sink is never entered twice on one
//! thread, and the sink lock is never taken twice by one thread (a waiting writer
//! would block the second read). Capture stays immediate: it takes no lock.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_void, CStr};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once, RwLock};

/// Severity of a llama.cpp log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// Receives each complete log line (without its trailing newline).
pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

static SINK: RwLock<Option<LogSink>> = RwLock::new(None);
/// Whether a sink is installed: without one, lines need not be queued at all.
static HAS_SINK: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

thread_local! {
    /// Lines captured on this thread while a `Capture` is alive; `None` when not capturing.
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    /// A partial line waiting for its continuation (llama.cpp logs some lines in pieces).
    static PARTIAL: RefCell<(Option<LogLevel>, String)> = const { RefCell::new((None, String::new())) };
    /// `Defer` guards alive on this thread.
    static DEFERRING: Cell<usize> = const { Cell::new(0) };
    /// This thread is inside the sink.
    static DELIVERING: Cell<bool> = const { Cell::new(false) };
    /// Lines waiting for delivery on this thread, oldest first.
    static PENDING: RefCell<Vec<(LogLevel, String)>> = const { RefCell::new(Vec::new()) };
}

/// Sends llama.cpp's log lines to `sink`, or silences them with `None`. When it
/// returns, no thread is still inside the previous sink. The sink may call into the
/// library (lines it causes are delivered after it returns), but must not call this.
pub fn set_log_sink(sink: Option<LogSink>) {
    install();
    let mut current = SINK.write().unwrap_or_else(|e| e.into_inner());
    HAS_SINK.store(sink.is_some(), Ordering::Release);
    *current = sink;
}

/// Installs the callback in llama.cpp and mtmd. Idempotent.
pub(crate) fn install() {
    INSTALL.call_once(|| unsafe {
        llama_cpp_sys_2::llama_log_set(Some(on_log), std::ptr::null_mut());
        llama_cpp_sys_2::mtmd_helper_log_set(Some(on_log), std::ptr::null_mut());
    });
}

fn level_of(raw: llama_cpp_sys_2::ggml_log_level) -> Option<LogLevel> {
    match raw {
        llama_cpp_sys_2::GGML_LOG_LEVEL_ERROR => Some(LogLevel::Error),
        llama_cpp_sys_2::GGML_LOG_LEVEL_WARN => Some(LogLevel::Warn),
        llama_cpp_sys_2::GGML_LOG_LEVEL_INFO => Some(LogLevel::Info),
        llama_cpp_sys_2::GGML_LOG_LEVEL_DEBUG => Some(LogLevel::Debug),
        _ => None, // GGML_LOG_LEVEL_CONT or NONE: continues the previous line
    }
}

extern "C" fn on_log(level: llama_cpp_sys_2::ggml_log_level, text: *const c_char, _: *mut c_void) {
    if text.is_null() {
        return;
    }
    // Never let a panic unwind into C.
    let _ = std::panic::catch_unwind(|| {
        let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
        // Complete lines are taken out of PARTIAL before they are emitted, so nothing
        // is borrowed if emitting leads back here.
        let mut complete = Vec::new();
        let _ = PARTIAL.try_with(|partial| {
            let mut partial = partial.borrow_mut();
            if let Some(level) = level_of(level) {
                if partial.0.is_some() && !partial.1.is_empty() {
                    complete.push((partial.0.unwrap_or(level), std::mem::take(&mut partial.1)));
                }
                partial.0 = Some(level);
            }
            partial.1.push_str(&text);
            if partial.1.ends_with('\n') {
                let line = std::mem::take(&mut partial.1);
                complete.push((partial.0.unwrap_or(LogLevel::Info), line.trim_end().to_string()));
            }
        });
        for (level, line) in complete {
            emit(level, line);
        }
    });
}

fn emit(level: LogLevel, line: String) {
    if level >= LogLevel::Warn {
        let _ = CAPTURED.try_with(|c| {
            if let Some(lines) = c.borrow_mut().as_mut() {
                lines.push(line.trim().to_string());
            }
        });
    }
    if !HAS_SINK.load(Ordering::Acquire) {
        return;
    }
    let _ = PENDING.try_with(|pending| pending.borrow_mut().push((level, line)));
    deliver_unless_deferred();
}

/// Hands this thread's waiting lines to the sink, unless a `Defer` guard is alive or
/// the thread is already inside the sink (the outer delivery then picks them up).
fn deliver_unless_deferred() {
    let deferred = DEFERRING.try_with(Cell::get).unwrap_or(0) > 0;
    if deferred || DELIVERING.try_with(Cell::get).unwrap_or(true) {
        return;
    }
    // Read once for the whole delivery: set_log_sink waits until it is over.
    let sink = SINK.read().unwrap_or_else(|e| e.into_inner());
    DELIVERING.set(true);
    loop {
        let lines = PENDING.with(|pending| std::mem::take(&mut *pending.borrow_mut()));
        if lines.is_empty() {
            break;
        }
        if let Some(sink) = sink.as_ref() {
            for (level, line) in lines {
                // A panicking sink loses its line, not the delivery of the rest.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(level, &line)));
            }
        }
    }
    DELIVERING.set(false);
}

/// Holds back delivery of this thread's log lines while alive (see the module notes):
/// take it before a lock llama.cpp may log under, so it drops after the lock guard.
/// Guards nest; the outermost one delivers the waiting lines when it drops.
pub(crate) struct Defer {
    /// Thread-bound: the count it changes is this thread's.
    _not_send: PhantomData<*const ()>,
}

impl Defer {
    pub(crate) fn start() -> Defer {
        DEFERRING.with(|d| d.set(d.get() + 1));
        Defer { _not_send: PhantomData }
    }
}

impl Drop for Defer {
    fn drop(&mut self) {
        DEFERRING.with(|d| d.set(d.get() - 1));
        deliver_unless_deferred();
    }
}

/// Collects the warning and error lines llama.cpp logs on this thread until dropped.
pub(crate) struct Capture {
    outer: Option<Vec<String>>,
}

impl Capture {
    pub(crate) fn start() -> Self {
        install();
        let outer = CAPTURED.with(|c| c.borrow_mut().replace(Vec::new()));
        Capture { outer }
    }

    /// The captured lines so far, errors first, joined into one readable reason.
    pub(crate) fn reason(&self) -> String {
        CAPTURED.with(|c| {
            let lines = c.borrow();
            let lines = lines.as_deref().unwrap_or_default();
            let errors: Vec<&str> = lines.iter().map(String::as_str).filter(|l| !l.is_empty()).collect();
            // The last few lines carry the cause; earlier ones are usually context.
            let start = errors.len().saturating_sub(3);
            errors[start..].join("; ")
        })
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let outer = self.outer.take();
        CAPTURED.with(|c| *c.borrow_mut() = outer);
    }
}
