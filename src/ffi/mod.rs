//! The C ABI (`include/vlmjudge.h`, generated from this module by cbindgen).
//!
//! Rules, after rustls-ffi and llama.h:
//! - opaque handles (`vlmjudge_model`, `vlmjudge_judge`, `vlmjudge_verdict`), each
//!   created by one function and released by its `_free`, which accepts NULL;
//! - every fallible function returns a `vlmjudge_status` and writes its outputs only
//!   on success; the calling thread's last error message says what went wrong;
//! - every exported function runs inside a panic boundary: a panic becomes
//!   `VLMJUDGE_ERR_PANIC`, never an unwind into (or an abort of) the host;
//! - "enums" are fixed-width integers with named constants, so a host passing an
//!   unknown value cannot cause undefined behaviour on this side;
//! - params structs start with `struct_size` so they can grow.
#![allow(non_camel_case_types)]

// In the order of an app's calls, which the header follows (cbindgen reads the modules
// as declared; blank lines keep rustfmt from sorting them): statuses and errors, the
// log, the model, the judge, its verdicts.
mod boundary;

mod log;

mod model;

mod judge;

mod verdict;

pub use boundary::*;
pub use judge::*;
pub use log::*;
pub use model::*;
pub use verdict::*;
