"""Finding libvlmjudge and declaring its C ABI (include/vlmjudge.h) for ctypes.

Everything here mirrors the header one to one: the constants, the three params
structs, the opaque handle types, the two callback types and every function with its
exact ``argtypes``/``restype``. The typed, Pythonic API lives in ``_api.py``.

The library is loaded with :class:`ctypes.CDLL`, which releases the GIL for the
duration of every foreign call; that is what lets Python threads judge in parallel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from typing import Any, List, Mapping, Optional, Tuple, Type

# The ABI (major, minor) this package was written against. The library must report
# exactly this major.minor from vlmjudge_version() (0.x releases may break at minor).
ABI_VERSION: Tuple[int, int] = (0, 1)

# --- constants (names and values as in vlmjudge.h) ---------------------------------

VLMJUDGE_OK = 0
VLMJUDGE_ERR_NULL_ARGUMENT = 100
VLMJUDGE_ERR_INVALID_UTF8 = 101
VLMJUDGE_ERR_INVALID_ARGUMENT = 102
VLMJUDGE_ERR_STRUCT_SIZE = 103
VLMJUDGE_ERR_IO = 200
VLMJUDGE_ERR_INVALID_GGUF = 201
VLMJUDGE_ERR_MODEL_LOAD = 202
VLMJUDGE_ERR_MMPROJ_LOAD = 203
VLMJUDGE_ERR_TEMPLATE = 204
VLMJUDGE_ERR_ENGINE = 300
VLMJUDGE_ERR_CANCELLED = 301
VLMJUDGE_ERR_PANIC = 900

VLMJUDGE_MODE_FAST = 0
VLMJUDGE_MODE_REASON = 1

VLMJUDGE_LOG_DEBUG = 0
VLMJUDGE_LOG_INFO = 1
VLMJUDGE_LOG_WARN = 2
VLMJUDGE_LOG_ERROR = 3

VLMJUDGE_CHOICE_A = 0
VLMJUDGE_CHOICE_B = 1
VLMJUDGE_CHOICE_TIE = 2
VLMJUDGE_CHOICE_NONE = 3

# --- types ------------------------------------------------------------------------

# Fixed-width typedefs of the header.
vlmjudge_status = ctypes.c_int32
vlmjudge_mode = ctypes.c_int32
vlmjudge_choice = ctypes.c_int32
vlmjudge_log_level = ctypes.c_int32


class vlmjudge_model(ctypes.Structure):
    """Opaque model handle (only ever used through a pointer)."""


class vlmjudge_judge(ctypes.Structure):
    """Opaque judge handle (only ever used through a pointer)."""


class vlmjudge_verdict(ctypes.Structure):
    """Opaque verdict (only ever used through a pointer)."""


ModelPtr = ctypes.POINTER(vlmjudge_model)
JudgePtr = ctypes.POINTER(vlmjudge_judge)
VerdictPtr = ctypes.POINTER(vlmjudge_verdict)


class vlmjudge_model_params(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("gpu_layers", ctypes.c_uint32),
        ("threads", ctypes.c_uint32),
        ("use_mmap", ctypes.c_bool),
        ("batch_invariant", ctypes.c_bool),
        ("image_cache_entries", ctypes.c_uint32),
        ("lora_path", ctypes.c_char_p),
        ("lora_scale", ctypes.c_float),
        ("image_max_tokens", ctypes.c_uint32),
    ]


class vlmjudge_judge_params(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("mode", vlmjudge_mode),
        ("swap", ctypes.c_bool),
        ("max_tokens", ctypes.c_uint32),
        ("temperature", ctypes.c_float),
        ("top_k", ctypes.c_uint32),
        ("top_p", ctypes.c_float),
        ("seed", ctypes.c_uint64),
        ("threads", ctypes.c_uint32),
        ("parallel", ctypes.c_uint32),
        ("ctx_per_seq", ctypes.c_uint32),
    ]


class vlmjudge_pair(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_char_p),
        ("question", ctypes.c_char_p),
        ("response_a", ctypes.c_char_p),
        ("response_b", ctypes.c_char_p),
        ("image", ctypes.POINTER(ctypes.c_uint8)),
        ("image_len", ctypes.c_size_t),
    ]


# bool (*)(size_t done, size_t total, void *user_data)
vlmjudge_progress_callback = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p)
# void (*)(vlmjudge_log_level level, const char *message, void *user_data)
vlmjudge_log_callback = ctypes.CFUNCTYPE(None, vlmjudge_log_level, ctypes.c_char_p, ctypes.c_void_p)

_P = ctypes.POINTER

# name: (restype, argtypes), in header order.
PROTOTYPES: Mapping[str, Tuple[Any, Tuple[Any, ...]]] = {
    "vlmjudge_version": (ctypes.c_char_p, ()),
    "vlmjudge_status_str": (ctypes.c_char_p, (vlmjudge_status,)),
    "vlmjudge_last_error_message": (ctypes.c_char_p, ()),
    "vlmjudge_set_log_callback": (vlmjudge_status, (vlmjudge_log_callback, ctypes.c_void_p)),
    "vlmjudge_model_default_params": (vlmjudge_model_params, ()),
    "vlmjudge_model_params_init": (vlmjudge_status, (_P(vlmjudge_model_params), ctypes.c_size_t)),
    "vlmjudge_model_load": (
        vlmjudge_status,
        (ctypes.c_char_p, ctypes.c_char_p, _P(vlmjudge_model_params), _P(ModelPtr)),
    ),
    "vlmjudge_model_free": (None, (ModelPtr,)),
    "vlmjudge_model_has_vision": (ctypes.c_bool, (ModelPtr,)),
    "vlmjudge_judge_default_params": (vlmjudge_judge_params, ()),
    "vlmjudge_judge_params_init": (vlmjudge_status, (_P(vlmjudge_judge_params), ctypes.c_size_t)),
    "vlmjudge_judge_new": (vlmjudge_status, (ModelPtr, _P(vlmjudge_judge_params), _P(JudgePtr))),
    "vlmjudge_judge_free": (None, (JudgePtr,)),
    "vlmjudge_judge_cancel": (vlmjudge_status, (JudgePtr,)),
    "vlmjudge_judge_pair": (vlmjudge_status, (JudgePtr, _P(vlmjudge_pair), _P(VerdictPtr))),
    "vlmjudge_judge_batch": (
        vlmjudge_status,
        (JudgePtr, _P(vlmjudge_pair), ctypes.c_size_t, _P(VerdictPtr), vlmjudge_progress_callback, ctypes.c_void_p),
    ),
    "vlmjudge_verdict_choice": (vlmjudge_choice, (VerdictPtr,)),
    "vlmjudge_verdict_p_a": (ctypes.c_double, (VerdictPtr,)),
    "vlmjudge_verdict_consistent": (ctypes.c_int32, (VerdictPtr,)),
    "vlmjudge_verdict_n_orders": (ctypes.c_size_t, (VerdictPtr,)),
    "vlmjudge_verdict_order_p_a": (ctypes.c_double, (VerdictPtr, ctypes.c_size_t)),
    "vlmjudge_verdict_order_choice": (vlmjudge_choice, (VerdictPtr, ctypes.c_size_t)),
    "vlmjudge_verdict_reasoning": (ctypes.c_char_p, (VerdictPtr, ctypes.c_size_t)),
    "vlmjudge_verdict_error": (ctypes.c_char_p, (VerdictPtr,)),
    "vlmjudge_verdict_id": (ctypes.c_char_p, (VerdictPtr,)),
    "vlmjudge_verdict_json": (ctypes.c_char_p, (VerdictPtr,)),
    "vlmjudge_verdict_free": (None, (VerdictPtr,)),
}

# --- errors raised while importing -------------------------------------------------


class LibraryNotFoundError(OSError):
    """libvlmjudge could not be loaded; ``tried`` lists (where, why) for each place."""

    tried: List[Tuple[str, str]]


class AbiMismatchError(ImportError):
    """The loaded libvlmjudge does not match the ABI this package was written for."""


# --- finding and loading ------------------------------------------------------------

if sys.platform == "darwin":
    LIBRARY_FILE = "libvlmjudge.dylib"
elif sys.platform == "win32":
    LIBRARY_FILE = "vlmjudge.dll"
else:
    LIBRARY_FILE = "libvlmjudge.so"

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def candidates(environ: Mapping[str, str]) -> List[Tuple[str, Optional[str]]]:
    """Where to look, in order, as (description, path or name or None if not found).

    ``VLMJUDGE_LIBRARY`` (a full path) and ``VLMJUDGE_LIB_DIR`` are authoritative:
    when one is set nothing else is tried, so a wrong setting is an error rather than
    a silent fall back to some other copy of the library.
    """
    explicit = environ.get("VLMJUDGE_LIBRARY")
    if explicit:
        return [("$VLMJUDGE_LIBRARY", explicit)]
    lib_dir = environ.get("VLMJUDGE_LIB_DIR")
    if lib_dir:
        return [("$VLMJUDGE_LIB_DIR", os.path.join(lib_dir, LIBRARY_FILE))]
    return [
        ("next to the package", os.path.join(PACKAGE_DIR, LIBRARY_FILE)),
        ('ctypes.util.find_library("vlmjudge")', ctypes.util.find_library("vlmjudge")),
    ]


def load(environ: Optional[Mapping[str, str]] = None) -> Tuple[ctypes.CDLL, str]:
    """Loads the library from the first place in :func:`candidates` that works."""
    env = os.environ if environ is None else environ
    tried: List[Tuple[str, str]] = []
    for where, path in candidates(env):
        if path is None:
            tried.append((where, "not found"))
            continue
        if os.sep in path and not os.path.exists(path):
            tried.append((f"{where}: {path}", "no such file"))
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append((f"{where}: {path}", str(e)))
    lines = "\n".join(f"  - {where}: {why}" for where, why in tried)
    err = LibraryNotFoundError(
        f"cannot load the vlmjudge C library ({LIBRARY_FILE}); looked in:\n{lines}\n"
        "Set VLMJUDGE_LIBRARY to the library file or VLMJUDGE_LIB_DIR to its folder."
    )
    err.tried = tried
    raise err


# Test-only entry points: present in libraries built with the `test-hooks` feature.
TEST_PROTOTYPES: Mapping[str, Tuple[Any, Tuple[Any, ...]]] = {
    "vlmjudge_test_panic": (vlmjudge_status, ()),
}


def declare(lib: ctypes.CDLL) -> None:
    """Sets argtypes/restype of every function; a missing symbol is an ABI mismatch."""
    for name, (restype, argtypes) in PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise AbiMismatchError(f"the vlmjudge library has no function {name}: header/library mismatch") from None
        fn.restype = restype
        fn.argtypes = argtypes
    for name, (restype, argtypes) in TEST_PROTOTYPES.items():
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = restype
            fn.argtypes = argtypes


def check_abi(
    lib: ctypes.CDLL,
    *,
    path: str = "the library",
    version: Optional[str] = None,
    model_params: Type[ctypes.Structure] = vlmjudge_model_params,
    judge_params: Type[ctypes.Structure] = vlmjudge_judge_params,
) -> None:
    """Raises AbiMismatchError unless the library's version is ABI_VERSION's
    major.minor and its params structs have the sizes of ours."""
    if version is None:
        version = lib.vlmjudge_version().decode("ascii", "replace")
    parts = version.split(".")
    try:
        major_minor = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        raise AbiMismatchError(f"{path} reports an unparsable version {version!r}") from None
    if major_minor != ABI_VERSION:
        raise AbiMismatchError(
            f"{path} is vlmjudge {version}, but this Python package is written for ABI "
            f"{ABI_VERSION[0]}.{ABI_VERSION[1]}.x: header/library mismatch"
        )
    # The _params_init functions write nothing unless the size given is the library's
    # own, so a struct of another size is refused without memory past it being touched.
    for fn_name, struct in (
        ("vlmjudge_model_params_init", model_params),
        ("vlmjudge_judge_params_init", judge_params),
    ):
        fn = lib[fn_name]  # a fresh function object: the declared one keeps its argtypes
        fn.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
        fn.restype = vlmjudge_status
        params = struct()
        size = ctypes.sizeof(struct)
        status = fn(ctypes.byref(params), size)
        if status != VLMJUDGE_OK or params.struct_size != size:
            reason = (lib.vlmjudge_last_error_message() or b"").decode("utf-8", "replace")
            raise AbiMismatchError(
                f"{path}: {fn_name}() refused the Python struct of {size} bytes "
                f"(status {status}: {reason}): header/library mismatch"
            )


def open_library() -> Tuple[ctypes.CDLL, str]:
    lib, path = load()
    declare(lib)
    check_abi(lib, path=path)
    return lib, path


lib, LIBRARY_PATH = open_library()
