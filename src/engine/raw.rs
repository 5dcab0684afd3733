//! Raw llama.cpp handles behind llama-cpp-2's safe types.
//!
//! llama-cpp-2 keeps its pointers private, but the image path needs them: mtmd encodes
//! images against the `llama_model` and decodes their embeddings into a
//! `llama_context`. The crate is pinned to an exact release, whose `LlamaModel` is
//! `#[repr(transparent)]` over a `NonNull<llama_model>`.

use std::ffi::CString;
use std::path::Path;

use llama_cpp_2::model::LlamaModel;
use llama_cpp_sys_2::llama_model;

const _: () = assert!(std::mem::size_of::<LlamaModel>() == std::mem::size_of::<*mut llama_model>());

/// The `llama_model` pointer of a loaded model. Valid as long as `model` lives.
pub(crate) fn model_ptr(model: &LlamaModel) -> *mut llama_model {
    // SAFETY: LlamaModel is repr(transparent) over Ptr<llama_model>, itself
    // repr(transparent) over NonNull<llama_model> (llama-cpp-2 =0.1.160, pinned).
    unsafe { *(model as *const LlamaModel).cast::<*mut llama_model>() }
}

/// A path as the C string llama.cpp and mtmd open (its bytes as the OS gives them);
/// `None` when it contains a NUL byte.
pub(crate) fn path_cstring(path: &Path) -> Option<CString> {
    CString::new(path.as_os_str().as_encoded_bytes()).ok()
}

/// A UTF-8 path that opens the same file as `path`, for llama-cpp-2's model loader,
/// which takes only UTF-8 paths while the C ABI promises byte paths. A UTF-8 path is
/// returned as it is; any other names the open descriptor kept in the returned file
/// (drop it after loading). A split model's other parts are found by name, so they
/// need a UTF-8 path.
pub(crate) fn utf8_path(path: &Path) -> std::io::Result<(std::path::PathBuf, Option<std::fs::File>)> {
    if path.to_str().is_some() {
        return Ok((path.to_path_buf(), None));
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(path)?;
        let dir = if cfg!(target_os = "linux") { "/proc/self/fd" } else { "/dev/fd" };
        Ok((Path::new(dir).join(file.as_raw_fd().to_string()), Some(file)))
    }
    #[cfg(not(unix))]
    Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path is not valid Unicode"))
}
