//! A request to stop a judge's work, set from any thread and seen inside llama.cpp.
//!
//! llama.cpp polls an abort callback between the graph nodes of a decode, so a set
//! flag stops a long prompt decode within one node rather than after it.

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A shareable cancel request. Clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// Asks the work this flag belongs to to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Clears the request; true if one was pending.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }

    /// The `data` pointer for [`abort_callback`]; valid while any clone of the flag lives.
    pub(crate) fn as_callback_data(&self) -> *mut c_void {
        Arc::as_ptr(&self.0) as *mut c_void
    }
}

/// llama.cpp's abort callback: true stops the decode in progress.
pub(crate) unsafe extern "C" fn abort_callback(data: *mut c_void) -> bool {
    // SAFETY: `data` comes from `as_callback_data` on a flag the context keeps alive.
    unsafe { &*(data as *const AtomicBool) }.load(Ordering::Acquire)
}
