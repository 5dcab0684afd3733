//! Routing llama.cpp's log to the host.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::boundary::{boundary, vlmjudge_status};
use crate::engine::{set_log_sink, LogLevel};

/// Log levels passed to a `vlmjudge_log_callback`.
pub type vlmjudge_log_level = i32;
pub const VLMJUDGE_LOG_DEBUG: vlmjudge_log_level = 0;
pub const VLMJUDGE_LOG_INFO: vlmjudge_log_level = 1;
pub const VLMJUDGE_LOG_WARN: vlmjudge_log_level = 2;
pub const VLMJUDGE_LOG_ERROR: vlmjudge_log_level = 3;

/// Receives one complete log line (no trailing newline), valid only during the call.
/// May be called from any thread that uses the library, concurrently, but never while
/// the library holds a lock of its own: lines logged under one wait until it is
/// released. So the callback may call into the library (except
/// `vlmjudge_set_log_callback`); lines it causes are delivered after it returns.
pub type vlmjudge_log_callback =
    Option<unsafe extern "C" fn(level: vlmjudge_log_level, message: *const c_char, user_data: *mut c_void)>;

struct HostSink {
    callback: unsafe extern "C" fn(vlmjudge_log_level, *const c_char, *mut c_void),
    user_data: *mut c_void,
}

// SAFETY: the header requires the callback and its user_data to be usable from any thread.
unsafe impl Send for HostSink {}
unsafe impl Sync for HostSink {}

impl HostSink {
    fn emit(&self, level: vlmjudge_log_level, line: &str) {
        let line = CString::new(line.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the host promised a function callable from any thread.
        unsafe { (self.callback)(level, line.as_ptr(), self.user_data) }
    }
}

/// Sends llama.cpp's (and vlmjudge's) log lines to `callback` with `user_data`, or,
/// with a NULL callback, drops them (the default: nothing is printed to stderr).
/// Process-wide; safe to call from any thread. When it returns, no thread is still
/// inside the previous callback, so the previous `user_data` may be freed. Do not call
/// it from inside a log callback (it would wait for itself). The callback must not
/// throw or longjmp.
#[no_mangle]
pub extern "C" fn vlmjudge_set_log_callback(
    callback: vlmjudge_log_callback,
    user_data: *mut c_void,
) -> vlmjudge_status {
    boundary(|| {
        let sink = callback.map(|callback| {
            let host = HostSink { callback, user_data };
            Arc::new(move |level: LogLevel, line: &str| {
                let level = match level {
                    LogLevel::Debug => VLMJUDGE_LOG_DEBUG,
                    LogLevel::Info => VLMJUDGE_LOG_INFO,
                    LogLevel::Warn => VLMJUDGE_LOG_WARN,
                    LogLevel::Error => VLMJUDGE_LOG_ERROR,
                };
                host.emit(level, line)
            }) as crate::engine::LogSink
        });
        set_log_sink(sink);
        Ok(())
    })
}
