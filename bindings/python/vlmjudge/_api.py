"""The typed, Pythonic API over the C ABI declared in ``_lib``."""

from __future__ import annotations

import atexit
import ctypes
import enum
import json
import math
import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

from . import _lib
from ._errors import (
    ClosedError,
    InternalError,
    InvalidArgument,
    InvalidUtf8,
    error_from_status,
)

L = _lib.lib

ImageInput = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", "os.PathLike[bytes]"]
PathInput = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
Choice = Literal["A", "B", "tie"]
Mode = Literal["fast", "reason"]
ProgressCallback = Callable[[int, int], Optional[bool]]

_MODES: Dict[str, int] = {"fast": _lib.VLMJUDGE_MODE_FAST, "reason": _lib.VLMJUDGE_MODE_REASON}
_CHOICES: Dict[int, Optional[Choice]] = {
    _lib.VLMJUDGE_CHOICE_A: "A",
    _lib.VLMJUDGE_CHOICE_B: "B",
    _lib.VLMJUDGE_CHOICE_TIE: "tie",
    _lib.VLMJUDGE_CHOICE_NONE: None,
}
_CONSISTENT: Dict[int, Optional[bool]] = {1: True, 0: False, -1: None}


class LogLevel(enum.IntEnum):
    DEBUG = _lib.VLMJUDGE_LOG_DEBUG
    INFO = _lib.VLMJUDGE_LOG_INFO
    WARN = _lib.VLMJUDGE_LOG_WARN
    ERROR = _lib.VLMJUDGE_LOG_ERROR


# --- plumbing --------------------------------------------------------------------


def _check(status: int) -> None:
    """Raises the status's exception with the message of this thread's last failed
    call, read right away (the next failing call on this thread replaces it)."""
    if status != _lib.VLMJUDGE_OK:
        raw = L.vlmjudge_last_error_message()
        message = raw.decode("utf-8", "replace") if raw else ""
        raise error_from_status(status, message or library_status_str(status))


def library_status_str(status: int) -> str:
    """vlmjudge_status_str(): a short description of a status code."""
    if isinstance(status, bool) or not isinstance(status, int):
        raise TypeError(f"status must be an int, not {type(status).__name__}")
    if not -(2**31) <= status < 2**31:
        raise InvalidArgument(_lib.VLMJUDGE_ERR_INVALID_ARGUMENT, f"status {status} is out of int32 range")
    raw: bytes = L.vlmjudge_status_str(status)
    return raw.decode("utf-8", "replace")


def library_version() -> str:
    """vlmjudge_version() of the loaded library, e.g. ``"0.1.0"``."""
    raw: bytes = L.vlmjudge_version()
    return raw.decode("utf-8", "replace")


def _test_panic() -> None:
    """For binding tests only: vlmjudge_test_panic(), which must raise InternalError.
    Only libraries built with the `test-hooks` feature have it."""
    if not hasattr(L, "vlmjudge_test_panic"):
        raise RuntimeError("this vlmjudge library was built without the test-hooks feature")
    _check(L.vlmjudge_test_panic())


def _default_model_params() -> _lib.vlmjudge_model_params:
    """The library's defaults, written by vlmjudge_model_params_init() into a struct of
    the size this package declares (the library refuses any other size)."""
    params = _lib.vlmjudge_model_params()
    _check(L.vlmjudge_model_params_init(ctypes.byref(params), ctypes.sizeof(params)))
    return params


def _default_judge_params() -> _lib.vlmjudge_judge_params:
    """The library's defaults, written by vlmjudge_judge_params_init()."""
    params = _lib.vlmjudge_judge_params()
    _check(L.vlmjudge_judge_params_init(ctypes.byref(params), ctypes.sizeof(params)))
    return params


def _invalid(message: str) -> InvalidArgument:
    return InvalidArgument(_lib.VLMJUDGE_ERR_INVALID_ARGUMENT, message)


def _uint(name: str, value: object, bits: int = 32) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value < 2**bits:
        raise _invalid(f"{name} must be in 0..{2**bits - 1}, not {value}")
    return value


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value


def _float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, not {type(value).__name__}")
    f = float(value)
    if not math.isfinite(f):
        raise _invalid(f"{name} must be finite, not {value}")
    return f


def _text(name: str, value: object) -> bytes:
    """UTF-8 for a C string. A lone surrogate raises InvalidUtf8 here, before the call:
    it is what the library would answer (VLMJUDGE_ERR_INVALID_UTF8) to the bytes
    Python could produce for it."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidUtf8(
            _lib.VLMJUDGE_ERR_INVALID_UTF8, f"{name} is not valid UTF-8: {e.reason} at index {e.start}"
        ) from e
    if b"\0" in data:
        raise _invalid(f"{name} contains a NUL character")
    return data


def _path(name: str, value: object) -> bytes:
    """A path as the file system's bytes (the ABI takes bytes on Unix)."""
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a path (str, bytes or os.PathLike), not {type(value).__name__}")
    data = os.fsencode(value)
    if b"\0" in data:
        raise _invalid(f"{name} contains a NUL character")
    return data


def _image(value: object) -> Optional[bytes]:
    """Encoded image bytes; a str or os.PathLike is a file to read (OSError if it can't be)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (str, os.PathLike)):
        with open(value, "rb") as f:
            return f.read()
    raise TypeError(f"image must be bytes, a path or None, not {type(value).__name__}")


_tls = threading.local()  # .in_log: how deep this thread is inside the log callback
_deferred_lock = threading.Lock()
_deferred: List[Tuple[Callable[[Any], None], Any]] = []


def _release(free: Callable[[Any], None], ptr: Any) -> None:
    """Frees a handle now, or later when this thread is inside the log callback (say a
    garbage collection there finalized a Model): the library is in its logging path
    then, and a free that logs would re-enter it and may deadlock against a concurrent
    set_log_callback(). Deferred frees run on the next call into the binding."""
    if getattr(_tls, "in_log", 0):
        with _deferred_lock:
            _deferred.append((free, ptr))
    else:
        free(ptr)


def _drain_deferred() -> None:
    if _deferred and not getattr(_tls, "in_log", 0):
        with _deferred_lock:
            items = _deferred[:]
            del _deferred[:]
        for free, ptr in items:
            free(ptr)


@contextmanager
def _sigint_deferred() -> Iterator[Callable[[], bool]]:
    """Around a C call on the main thread: a Ctrl-C only sets a flag (the yielded
    function reads it) and the Python SIGINT handler runs once the body is done.

    Python runs a signal handler at the next bytecode of the main thread, which during
    a batch is the first instruction of the ctypes progress callback, before any try
    block: an exception there escapes into ctypes, which prints it and hands the
    library an undefined bool. With the flag, the callback cancels the batch cleanly,
    the verdicts written are still freed, and KeyboardInterrupt comes afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):  # SIG_DFL, SIG_IGN or not set from Python: nothing runs
        yield lambda: False
        return
    hits: List[Any] = []

    def note(signum: int, frame: Any) -> None:
        hits.append(frame)

    signal.signal(signal.SIGINT, note)
    try:
        yield lambda: bool(hits)
    finally:
        signal.signal(signal.SIGINT, previous)
        if hits:
            previous(signal.SIGINT, hits[0])  # default_int_handler raises KeyboardInterrupt


class _Handle:
    """Owns one C handle. Counts the calls in flight, so that close() (from any thread,
    or from inside a callback) never frees the handle under a running call: the last
    call out frees it. An exclusive handle (a Judge) refuses a second concurrent call
    with RuntimeError instead of letting two threads into a non-thread-safe object."""

    def __init__(self, ptr: Any, free: Callable[[Any], None], what: str, exclusive: bool) -> None:
        self._ptr: Any = ptr
        self._free = free
        self._what = what
        self._exclusive = exclusive
        self._lock = threading.Lock()
        self._users = 0
        self.closed = False

    @contextmanager
    def use(self, shared: bool = False) -> Iterator[Any]:
        """The pointer, kept from being freed until the block ends. ``shared`` lets a
        call that the C ABI allows beside a running one (vlmjudge_judge_cancel) into
        an exclusive handle."""
        _drain_deferred()
        with self._lock:
            if self.closed:
                raise ClosedError(f"this {self._what} is closed")
            if self._exclusive and self._users and not shared:
                raise RuntimeError(
                    f"this {self._what} is already in use (by another thread, or re-entered from a "
                    f"callback); a {self._what} is not thread-safe: open one per thread"
                )
            self._users += 1
            ptr = self._ptr
        try:
            yield ptr
        finally:
            with self._lock:
                self._users -= 1
                ptr = self._take_if_done()
            if ptr is not None:
                _release(self._free, ptr)

    def _take_if_done(self) -> Any:
        if self.closed and self._users == 0 and self._ptr is not None:
            ptr, self._ptr = self._ptr, None
            return ptr
        return None

    def close(self) -> None:
        with self._lock:
            self.closed = True
            ptr = self._take_if_done()
        if ptr is not None:
            _release(self._free, ptr)


# --- verdicts --------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The verdict on one pair, copied out of the library's (which is then freed).

    ``choice`` is ``"A"``, ``"B"``, ``"tie"`` or None when the pair failed (``error``
    says why). ``p_a`` is the probability that response A is better (None when the
    pair failed). ``consistent`` says whether both presentation orders chose the same
    response (None without swap or on failure). ``reasoning`` has one string per
    order judged in reason mode (0 = as given, 1 = swapped) and is empty in fast mode.
    ``raw`` is the whole verdict as the CLI writes it (per-order results, token counts,
    timing); it is left out of ``==`` and ``hash``.
    """

    id: str
    choice: Optional[Choice]
    p_a: Optional[float]
    consistent: Optional[bool]
    reasoning: Tuple[str, ...]
    error: Optional[str]
    raw: Dict[str, Any] = field(compare=False, hash=False, repr=False)

    @property
    def ok(self) -> bool:
        """True when the pair was judged (``error`` is None)."""
        return self.error is None


def _str(raw: Optional[bytes]) -> Optional[str]:
    return None if raw is None else raw.decode("utf-8", "replace")


def _copy_verdict(ptr: Any) -> Verdict:
    code = L.vlmjudge_verdict_choice(ptr)
    if code not in _CHOICES:
        raise InternalError(_lib.VLMJUDGE_ERR_PANIC, f"the library returned an unknown vlmjudge_choice {code}")
    p_a = L.vlmjudge_verdict_p_a(ptr)
    consistent = L.vlmjudge_verdict_consistent(ptr)
    reasoning: List[str] = []
    while len(reasoning) < 8:
        text = L.vlmjudge_verdict_reasoning(ptr, len(reasoning))
        if text is None:
            break
        reasoning.append(text.decode("utf-8", "replace"))
    return Verdict(
        id=_str(L.vlmjudge_verdict_id(ptr)) or "",
        choice=_CHOICES[code],
        p_a=None if math.isnan(p_a) else p_a,
        consistent=_CONSISTENT.get(consistent),
        reasoning=tuple(reasoning),
        error=_str(L.vlmjudge_verdict_error(ptr)),
        raw=json.loads(_str(L.vlmjudge_verdict_json(ptr)) or "{}"),
    )


def _take_verdicts(ptrs: Any, n: int) -> List[Verdict]:
    """Copies n verdicts out and frees every one of them exactly once, even if a copy fails."""
    out: List[Verdict] = []
    i = 0
    try:
        while i < n:
            ptr = ptrs[i]
            i += 1
            try:
                out.append(_copy_verdict(ptr))
            finally:
                L.vlmjudge_verdict_free(ptr)
    finally:
        while i < n:
            L.vlmjudge_verdict_free(ptrs[i])
            i += 1
    return out


# --- pairs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One preference pair. ``image`` is encoded bytes (PNG, JPEG, WebP, GIF) or a path
    to such a file (read when the pair is judged); ``id`` defaults to the pair's index."""

    question: str
    response_a: str
    response_b: str
    image: Optional[ImageInput] = None
    id: Optional[str] = None


_PAIR_KEYS = frozenset(("question", "response_a", "response_b", "image", "id"))
_IGNORED_KEYS = frozenset(("label", "category"))  # the CLI's pairs.jsonl fields


def _as_pair(item: Union[Pair, Mapping[str, Any]], index: int) -> Pair:
    if isinstance(item, Pair):
        return item
    if not isinstance(item, Mapping):
        raise TypeError(f"pair {index} must be a Pair or a dict, not {type(item).__name__}")
    unknown = set(item) - _PAIR_KEYS - _IGNORED_KEYS
    if unknown:
        raise _invalid(f"pair {index} has unknown keys {sorted(unknown)}")
    missing = [k for k in ("question", "response_a", "response_b") if k not in item]
    if missing:
        raise _invalid(f"pair {index} lacks {missing}")
    return Pair(**{k: v for k, v in item.items() if k in _PAIR_KEYS})


def _fill_pair(c: _lib.vlmjudge_pair, pair: Pair, keep: List[Any], where: str = "") -> None:
    """Fills a vlmjudge_pair; every buffer it points into is appended to ``keep``,
    which the caller holds until the C call returns."""
    fields = [
        _text(where + "question", pair.question),
        _text(where + "response_a", pair.response_a),
        _text(where + "response_b", pair.response_b),
    ]
    ident = None if pair.id is None else _text(where + "id", pair.id)
    image = _image(pair.image)
    keep.extend(fields)
    keep.extend((ident, image))
    c.id = ident
    c.question, c.response_a, c.response_b = fields
    if image is None:
        c.image = None
        c.image_len = 0
    else:
        c.image = ctypes.cast(ctypes.c_char_p(image), ctypes.POINTER(ctypes.c_uint8))  # no copy
        c.image_len = len(image)


# --- models and judges ------------------------------------------------------------


_Owner = TypeVar("_Owner", bound="_HandleOwner")


class _HandleOwner:
    """What Model and Judge share: a `_Handle` (None when construction failed), its
    `closed` state, `close()`, context management and a finalizer that never raises."""

    _handle: Optional[_Handle]
    #: The error when the object never got a handle.
    _failed: str = "this object failed to open"

    @property
    def closed(self) -> bool:
        return self._handle is None or self._handle.closed

    def _live(self) -> _Handle:
        if self._handle is None:
            raise ClosedError(self._failed)
        return self._handle

    def close(self) -> None:
        """Releases the handle (idempotent). A Model's open judges keep working; a
        Judge's release waits until a running call returns."""
        if self._handle is not None:
            self._handle.close()

    def __enter__(self: _Owner) -> _Owner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            try:
                handle.close()
            except Exception:  # never raise from a finalizer (e.g. at interpreter exit)
                pass


class Model(_HandleOwner):
    """A loaded GGUF model, with its multimodal projector when ``mmproj`` is given.

    Thread-safe: share one Model between threads, each with its own Judge. Judges keep
    the model's memory alive, so closing a Model while its judges are open is fine.
    Close it with close(), a ``with`` block, or let it be garbage-collected.
    """

    _failed = "this Model failed to load"

    def __init__(
        self,
        path: PathInput,
        mmproj: Optional[PathInput] = None,
        *,
        gpu_layers: int = 0,
        threads: int = 0,
        use_mmap: bool = True,
        batch_invariant: bool = True,
        image_cache_entries: int = 64,
        lora: Optional[PathInput] = None,
        lora_scale: float = 1.0,
        image_max_tokens: int = 512,
    ) -> None:
        self._handle: Optional[_Handle] = None
        _drain_deferred()
        params = _default_model_params()
        params.gpu_layers = _uint("gpu_layers", gpu_layers)
        params.threads = _uint("threads", threads)
        params.use_mmap = _bool("use_mmap", use_mmap)
        params.batch_invariant = _bool("batch_invariant", batch_invariant)
        params.image_cache_entries = _uint("image_cache_entries", image_cache_entries)
        # `lora_path` stays referenced until the call returns (params holds its pointer).
        lora_path = None if lora is None else _path("lora", lora)
        params.lora_path = lora_path
        params.lora_scale = float(lora_scale)
        params.image_max_tokens = _uint("image_max_tokens", image_max_tokens)
        model_path = _path("path", path)
        mmproj_path = None if mmproj is None else _path("mmproj", mmproj)
        out = _lib.ModelPtr()
        _check(L.vlmjudge_model_load(model_path, mmproj_path, ctypes.byref(params), ctypes.byref(out)))
        self._handle = _Handle(out, L.vlmjudge_model_free, "Model", exclusive=False)
        self.path: str = os.fsdecode(model_path)
        self.mmproj: Optional[str] = None if mmproj_path is None else os.fsdecode(mmproj_path)

    @property
    def has_vision(self) -> bool:
        """Whether an mmproj was loaded, so image pairs can be judged."""
        with self._live().use() as ptr:
            return bool(L.vlmjudge_model_has_vision(ptr))

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        mmproj = f", mmproj={self.mmproj!r}" if getattr(self, "mmproj", None) else ""
        return f"<vlmjudge.Model {getattr(self, 'path', '?')!r}{mmproj} ({state})>"


class Judge(_HandleOwner):
    """A judging session on a Model.

    Not thread-safe: use a Judge from one thread at a time (it may move between
    threads); open one Judge per thread to judge in parallel on a shared Model. A
    second concurrent call raises RuntimeError rather than corrupting anything. The
    one exception is cancel(), which any thread may call while a call is running.
    """

    _failed = "this Judge failed to open"

    def __init__(
        self,
        model: Model,
        *,
        mode: Mode = "fast",
        swap: bool = True,
        max_tokens: int = 256,
        temperature: float = 0.0,
        top_k: int = 50,
        top_p: float = 0.9,
        seed: int = 0,
        threads: int = 0,
        parallel: int = 8,
        ctx_per_seq: int = 1024,
    ) -> None:
        self._handle: Optional[_Handle] = None
        if not isinstance(model, Model):
            raise TypeError(f"model must be a vlmjudge.Model, not {type(model).__name__}")
        if not isinstance(mode, str):
            raise TypeError(f"mode must be a str ('fast' or 'reason'), not {type(mode).__name__}")
        if mode not in _MODES:
            raise _invalid(f"mode must be 'fast' or 'reason', not {mode!r}")
        params = _default_judge_params()
        params.mode = _MODES[mode]
        params.swap = _bool("swap", swap)
        params.max_tokens = _uint("max_tokens", max_tokens)
        params.temperature = _float("temperature", temperature)
        params.top_k = _uint("top_k", top_k)
        params.top_p = _float("top_p", top_p)
        params.seed = _uint("seed", seed, bits=64)
        params.threads = _uint("threads", threads)
        params.parallel = _uint("parallel", parallel)
        params.ctx_per_seq = _uint("ctx_per_seq", ctx_per_seq)
        out = _lib.JudgePtr()
        with model._live().use() as model_ptr:
            _check(L.vlmjudge_judge_new(model_ptr, ctypes.byref(params), ctypes.byref(out)))
        self._handle = _Handle(out, L.vlmjudge_judge_free, "Judge", exclusive=True)
        self.mode: Mode = mode

    def judge(
        self,
        question: str,
        response_a: str,
        response_b: str,
        *,
        image: Optional[ImageInput] = None,
        id: Optional[str] = None,
    ) -> Verdict:
        """Judges one pair. A problem with the pair itself (empty text, an undecodable
        image, an image without mmproj, too long for the context) is reported on the
        verdict's ``error``, not raised."""
        keep: List[Any] = []
        c_pair = _lib.vlmjudge_pair()
        _fill_pair(c_pair, Pair(question, response_a, response_b, image=image, id=id), keep)
        out = _lib.VerdictPtr()
        with self._live().use() as ptr, _sigint_deferred():
            _check(L.vlmjudge_judge_pair(ptr, ctypes.byref(c_pair), ctypes.byref(out)))
            return _take_verdicts([out], 1)[0]

    def judge_batch(
        self,
        pairs: Iterable[Union[Pair, Mapping[str, Any]]],
        progress: Optional[ProgressCallback] = None,
    ) -> List[Verdict]:
        """Judges many pairs with up to ``parallel`` in flight; verdicts come back in
        input order, each pair's own problem on its own verdict.

        ``progress(done, total)`` is called on this thread after each pair; returning
        False cancels the batch and raises Cancelled (None or True go on). An exception
        raised by ``progress`` also cancels the batch and is re-raised here, and so is
        a KeyboardInterrupt (Ctrl-C) that arrives during the batch, at the next
        finished pair.
        """
        if progress is not None and not callable(progress):
            raise TypeError("progress must be callable or None")
        items = [_as_pair(p, i) for i, p in enumerate(pairs)]
        n = len(items)
        keep: List[Any] = []
        c_pairs = (_lib.vlmjudge_pair * n)()
        for i, pair in enumerate(items):
            _fill_pair(c_pairs[i], pair, keep, f"pair {i}: ")
        raised: List[BaseException] = []
        user_progress = progress
        out = (_lib.VerdictPtr * n)()
        with self._live().use() as ptr, _sigint_deferred() as interrupted:
            if n == 0:
                return []

            # Installed even without `progress`, so that Ctrl-C cancels at the next pair.
            def on_progress(done: int, total: int, _user_data: Optional[int]) -> bool:
                try:
                    if interrupted():
                        return False
                    if user_progress is None:
                        return True
                    answer = user_progress(done, total)
                    return answer is None or bool(answer)
                except BaseException as e:  # cancel, and re-raise from judge_batch
                    raised.append(e)
                    return False

            callback = _lib.vlmjudge_progress_callback(on_progress)
            # `callback`, `c_pairs` and `keep` stay referenced until the call returns.
            status = L.vlmjudge_judge_batch(ptr, c_pairs, n, out, callback, None)
            if status != _lib.VLMJUDGE_OK and raised:
                raise raised[0]  # the progress callback's own exception cancelled the batch
            _check(status)  # Cancelled after a Ctrl-C becomes KeyboardInterrupt on exit
            verdicts = _take_verdicts(out, n)  # frees every one
        if raised:  # only if the library finished despite the callback's False
            raise raised[0]
        return verdicts

    def cancel(self) -> None:
        """Asks this judge to stop; thread-safe, unlike every other method.

        The judge() or judge_batch() running on it (in another thread: ctypes releases
        the GIL during the call) raises Cancelled soon after, returning no verdicts;
        with no call running, the next call raises Cancelled at once. The request is
        used up when that call returns, even by a call that finished before noticing
        it. Raises ClosedError on a closed Judge.
        """
        with self._live().use(shared=True) as ptr:
            _check(L.vlmjudge_judge_cancel(ptr))

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<vlmjudge.Judge mode={getattr(self, 'mode', '?')!r} ({state})>"


# --- logging ---------------------------------------------------------------------

LogCallback = Callable[[LogLevel, str], None]

_log_lock = threading.Lock()
_log_callback: Any = None  # the ctypes callback the library holds, kept alive here
_log_atexit_registered = False


def set_log_callback(fn: Optional[LogCallback]) -> None:
    """Sends llama.cpp's and vlmjudge's log lines to ``fn(level, line)``, or drops them
    (None, the default). Process-wide.

    ``fn`` may be called from any thread that uses the library, concurrently, while
    the library holds its log lock: keep it short, and do not call vlmjudge from it
    (calling set_log_callback() there raises RuntimeError instead of deadlocking).
    Exceptions it raises go to sys.unraisablehook and are otherwise ignored.
    """
    global _log_callback, _log_atexit_registered
    if getattr(_tls, "in_log", 0):
        raise RuntimeError("set_log_callback() cannot be called from inside the log callback")
    callback = _lib.vlmjudge_log_callback()  # NULL: drop the lines
    if fn is not None:
        if not callable(fn):
            raise TypeError("the log callback must be callable or None")
        user_fn = fn

        def on_log(level: int, message: Optional[bytes], _user_data: Optional[int]) -> None:
            try:
                lvl: Any = LogLevel(level)
            except ValueError:
                lvl = level
            _tls.in_log = getattr(_tls, "in_log", 0) + 1
            try:
                user_fn(lvl, message.decode("utf-8", "replace") if message else "")
            finally:
                _tls.in_log -= 1

        callback = _lib.vlmjudge_log_callback(on_log)
    with _log_lock:
        _check(L.vlmjudge_set_log_callback(callback, None))
        # When vlmjudge_set_log_callback() returns, no thread is inside the previous
        # callback any more (the ABI's promise), so it may be released now.
        _log_callback = callback
        if fn is not None and not _log_atexit_registered:
            # Stop calling into Python before the interpreter goes away.
            atexit.register(L.vlmjudge_set_log_callback, _lib.vlmjudge_log_callback(), None)
            _log_atexit_registered = True
    _drain_deferred()
