"""The exception hierarchy: one class per status range of vlmjudge.h, with subclasses
for the statuses a caller is likely to handle on their own.

    VlmjudgeError(status, message)
    ├── InvalidArgument (also ValueError)     100-199
    │   ├── InvalidUtf8                       101
    │   ├── StructSizeError                   103
    │   └── ClosedError                       a closed Model or Judge was used
    ├── ModelLoadError                        200-299 (202 itself)
    │   ├── ModelFileError                    200: a file could not be read
    │   ├── InvalidGgufError                  201
    │   ├── MmprojLoadError                   203
    │   └── TemplateError                     204
    ├── JudgingError                          300-399
    │   ├── EngineError                       300
    │   └── Cancelled                         301
    └── InternalError                         900-999 (VLMJUDGE_ERR_PANIC)
"""

from __future__ import annotations

from typing import Dict, Type

from . import _lib

STATUS_NAMES: Dict[int, str] = {
    value: name for name, value in vars(_lib).items() if name.startswith("VLMJUDGE_ERR_") or name == "VLMJUDGE_OK"
}


class VlmjudgeError(Exception):
    """A vlmjudge call failed. ``status`` is the vlmjudge_status code and ``message``
    the library's vlmjudge_last_error_message() (or the binding's own message)."""

    status: int
    message: str

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, f"status {self.status}")

    def __str__(self) -> str:
        return f"{self.message} [{self.status_name}]"


class InvalidArgument(VlmjudgeError, ValueError):
    """An argument was NULL, out of range, inconsistent or of the wrong struct size."""


class InvalidUtf8(InvalidArgument):
    """A string was not valid UTF-8 (for a Python ``str``: it held lone surrogates)."""


class StructSizeError(InvalidArgument):
    """A params struct's struct_size did not match the library's."""


class ClosedError(InvalidArgument):
    """A Model or Judge was used after close(). Its status is
    VLMJUDGE_ERR_NULL_ARGUMENT: a closed handle is what the C ABI calls NULL."""

    def __init__(self, message: str) -> None:
        super().__init__(_lib.VLMJUDGE_ERR_NULL_ARGUMENT, message)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.message,))


class ModelLoadError(VlmjudgeError):
    """A model or mmproj could not be loaded, or its chat template is unusable."""


class ModelFileError(ModelLoadError):
    """A model or mmproj file could not be read (missing, unreadable)."""


class InvalidGgufError(ModelLoadError):
    """A file is not a usable GGUF (not GGUF, truncated, corrupt)."""


class MmprojLoadError(ModelLoadError):
    """The mmproj could not be loaded or does not fit the model."""


class TemplateError(ModelLoadError):
    """The prompt template or the model's chat template is unusable."""


class JudgingError(VlmjudgeError):
    """Judging failed as a whole (a pair's own problem is on its Verdict instead)."""


class EngineError(JudgingError):
    """llama.cpp failed while judging (out of memory, decode failure)."""


class Cancelled(JudgingError):
    """The call was cancelled: by the progress callback, or by Judge.cancel()."""


class InternalError(VlmjudgeError):
    """A bug inside vlmjudge, caught at the C boundary (VLMJUDGE_ERR_PANIC)."""


_BY_STATUS: Dict[int, Type[VlmjudgeError]] = {
    _lib.VLMJUDGE_ERR_INVALID_UTF8: InvalidUtf8,
    _lib.VLMJUDGE_ERR_STRUCT_SIZE: StructSizeError,
    _lib.VLMJUDGE_ERR_IO: ModelFileError,
    _lib.VLMJUDGE_ERR_INVALID_GGUF: InvalidGgufError,
    _lib.VLMJUDGE_ERR_MMPROJ_LOAD: MmprojLoadError,
    _lib.VLMJUDGE_ERR_TEMPLATE: TemplateError,
    _lib.VLMJUDGE_ERR_ENGINE: EngineError,
    _lib.VLMJUDGE_ERR_CANCELLED: Cancelled,
}

_BY_RANGE: Dict[int, Type[VlmjudgeError]] = {
    1: InvalidArgument,
    2: ModelLoadError,
    3: JudgingError,
    9: InternalError,
}


def error_class(status: int) -> Type[VlmjudgeError]:
    """The exception class for a status: its own, else its range's, else the base."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return _BY_RANGE.get(status // 100, VlmjudgeError) if status > 0 else VlmjudgeError


def error_from_status(status: int, message: str) -> VlmjudgeError:
    return error_class(status)(status, message)
