"""vlmjudge: vision-language judges on llama.cpp, from Python (ctypes over the C ABI).

    import vlmjudge

    with vlmjudge.Model("judge.gguf", "mmproj.gguf") as model:
        judge = vlmjudge.Judge(model, mode="fast")
        v = judge.judge("What colour is the square?", "Blue.", "Red.", image="square.png")
        print(v.choice, v.p_a, v.consistent)

Threads: a Model may be shared by any number of threads; a Judge is used by one
thread at a time, so open one Judge per thread. The library is loaded with
ctypes.CDLL, which releases the GIL during every C call: judges on different threads
really run in parallel (the C library itself makes no promises about the GIL).

Importing this package loads libvlmjudge (VLMJUDGE_LIBRARY, else VLMJUDGE_LIB_DIR,
else next to the package, else ctypes.util.find_library) and checks that it matches
this package's ABI; it raises LibraryNotFoundError (an OSError) or AbiMismatchError
(an ImportError) otherwise.
"""

from ._api import (
    Judge,
    LogLevel,
    Model,
    Pair,
    Verdict,
    library_status_str,
    library_version,
    set_log_callback,
)
from ._errors import (
    Cancelled,
    ClosedError,
    EngineError,
    InternalError,
    InvalidArgument,
    InvalidGgufError,
    InvalidUtf8,
    JudgingError,
    MmprojLoadError,
    ModelFileError,
    ModelLoadError,
    StructSizeError,
    TemplateError,
    VlmjudgeError,
)
from ._lib import ABI_VERSION, LIBRARY_PATH, AbiMismatchError, LibraryNotFoundError

__version__ = "0.1.0"

__all__ = [
    "ABI_VERSION",
    "LIBRARY_PATH",
    "AbiMismatchError",
    "Cancelled",
    "ClosedError",
    "EngineError",
    "InternalError",
    "InvalidArgument",
    "InvalidGgufError",
    "InvalidUtf8",
    "Judge",
    "JudgingError",
    "LibraryNotFoundError",
    "LogLevel",
    "MmprojLoadError",
    "Model",
    "ModelFileError",
    "ModelLoadError",
    "Pair",
    "StructSizeError",
    "TemplateError",
    "Verdict",
    "VlmjudgeError",
    "library_status_str",
    "library_version",
    "set_log_callback",
]
