"""Tests of the vlmjudge Python binding against the real C library.

Environment (scripts/test-python.sh sets them up):
  VLMJUDGE_LIB_DIR        folder with libvlmjudge.so (how the package finds the library)
  VLMJUDGE_TEST_MODEL     the generated tiny-vlm model.gguf (`vlmjudge-lab fixture --kind tiny-vlm`)
  VLMJUDGE_TEST_MMPROJ    its mmproj.gguf
  VLMJUDGE_TEST_IMAGE     a PNG file
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import vlmjudge
from vlmjudge import _api, _lib

L = _lib.lib
REPO = Path(__file__).resolve().parents[3]
PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # bindings/python
QUESTION = "How many legs does a cat have?"
GOOD = "A cat has four legs."
BAD = "A cat has seven legs."


def env_path(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set (see scripts/test-python.sh)")
    if not os.path.exists(value):
        pytest.fail(f"{name}={value} does not exist")
    return value


@pytest.fixture(scope="session")
def model_path() -> str:
    return env_path("VLMJUDGE_TEST_MODEL")


@pytest.fixture(scope="session")
def mmproj_path() -> str:
    return env_path("VLMJUDGE_TEST_MMPROJ")


@pytest.fixture(scope="session")
def image_path() -> str:
    return env_path("VLMJUDGE_TEST_IMAGE")


@pytest.fixture(scope="session")
def model(model_path: str, mmproj_path: str) -> Iterator[vlmjudge.Model]:
    m = vlmjudge.Model(model_path, mmproj_path)
    yield m
    m.close()


def open_judge(model: vlmjudge.Model, **kw: Any) -> vlmjudge.Judge:
    settings: Dict[str, Any] = dict(threads=1, parallel=4, ctx_per_seq=384)
    settings.update(kw)
    return vlmjudge.Judge(model, **settings)


@pytest.fixture
def judge(model: vlmjudge.Model) -> Iterator[vlmjudge.Judge]:
    j = open_judge(model)
    yield j
    j.close()


def assert_judged(v: vlmjudge.Verdict) -> None:
    """A verdict of a pair that was judged, internally consistent."""
    assert v.error is None and v.ok
    assert v.p_a is not None and 0.0 <= v.p_a <= 1.0
    # The choice follows p(A), except that reasoned orders that contradict each other
    # are a tie (each order's p(A) is read after its own reasoning).
    orders = v.raw["orders"]
    contradict = all(o.get("reasoning") is not None for o in orders) and {o["verdict"] for o in orders} == {"A", "B"}
    assert v.choice == ("tie" if contradict else "A" if v.p_a > 0.5 else "B" if v.p_a < 0.5 else "tie")
    assert v.consistent in (True, False)
    assert v.raw["p_a"] == v.p_a and v.raw["id"] == v.id
    assert len(v.raw["orders"]) == 2


class FreeCounter:
    """Wraps vlmjudge_verdict_free to record every pointer it is given."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.freed: List[int] = []
        real = L.vlmjudge_verdict_free

        def counting(ptr: Any) -> None:
            self.freed.append(ctypes.cast(ptr, ctypes.c_void_p).value or 0)
            real(ptr)

        monkeypatch.setattr(L, "vlmjudge_verdict_free", counting)

    def assert_each_once(self, n: int) -> None:
        assert len(self.freed) == n
        assert len(set(self.freed)) == n and 0 not in self.freed


# --- the library and its declarations ---------------------------------------------


def test_version_and_status_strings() -> None:
    version = vlmjudge.library_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert tuple(int(x) for x in version.split(".")[:2]) == vlmjudge.ABI_VERSION
    assert vlmjudge.library_status_str(0) == "ok"
    assert vlmjudge.library_status_str(_lib.VLMJUDGE_ERR_STRUCT_SIZE) == "struct_size mismatch"
    assert vlmjudge.library_status_str(12345) == "unknown status"
    with pytest.raises(TypeError):
        vlmjudge.library_status_str("0")  # type: ignore[arg-type]
    with pytest.raises(vlmjudge.InvalidArgument):
        vlmjudge.library_status_str(2**40)
    assert Path(vlmjudge.LIBRARY_PATH).resolve() == (Path(os.environ["VLMJUDGE_LIB_DIR"]) / _lib.LIBRARY_FILE).resolve()


def find_header() -> Path:
    installed = Path(vlmjudge.LIBRARY_PATH).resolve().parent.parent / "include" / "vlmjudge.h"
    for candidate in (installed, REPO / "include" / "vlmjudge.h"):
        if candidate.exists():
            return candidate
    pytest.fail("vlmjudge.h not found next to the library nor in the repository")


class Header:
    """Just enough of a C parser for vlmjudge.h (cbindgen output)."""

    BASE: Dict[str, Any] = {
        "char": ctypes.c_char,
        "uint8_t": ctypes.c_uint8,
        "int32_t": ctypes.c_int32,
        "uint32_t": ctypes.c_uint32,
        "uint64_t": ctypes.c_uint64,
        "size_t": ctypes.c_size_t,
        "bool": ctypes.c_bool,
        "float": ctypes.c_float,
        "double": ctypes.c_double,
    }

    def __init__(self, text: str) -> None:
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        self.defines = {k: int(v) for k, v in re.findall(r"#define\s+(VLMJUDGE_\w+)\s+(-?\d+)\s*$", text, re.M)}
        self.typedefs = dict((alias, base) for base, alias in re.findall(r"typedef\s+(\w+)\s+(\w+)\s*;", text))
        self.structs: Dict[str, List[Tuple[str, str]]] = {}
        for name, body in re.findall(r"typedef struct (\w+) \{(.*?)\} \1;", text, re.S):
            fields = []
            for stmt in filter(None, (s.strip() for s in body.split(";"))):
                m = re.fullmatch(r"(.*?)(\w+)", " ".join(stmt.split()))
                assert m, stmt
                fields.append((m.group(2), m.group(1).strip()))
            self.structs[name] = fields
        self.functions: Dict[str, Tuple[str, List[str]]] = {}
        for ret, name, args in re.findall(r"([A-Za-z_][\w \t\*]*?)\b(vlmjudge_\w+)\(([^)]*)\);", text):
            arg_types = []
            for arg in args.split(","):
                arg = " ".join(arg.split())
                if arg and arg != "void":
                    arg_types.append(re.fullmatch(r"(.*?)\w+", arg).group(1).strip())  # type: ignore[union-attr]
            self.functions[name] = (" ".join(ret.split()), arg_types)

    def ctype(self, c: str) -> Any:
        s = c.replace("const ", "").strip()
        stars = s.count("*")
        base = s.replace("*", "").replace("struct ", "").strip()
        if stars == 1 and base == "char":
            return ctypes.c_char_p
        if stars == 1 and base == "void":
            return ctypes.c_void_p
        if base == "void" and stars == 0:
            return None
        base = self.typedefs.get(base, base)
        t = self.BASE[base] if base in self.BASE else getattr(_lib, base)
        for _ in range(stars):
            t = ctypes.POINTER(t)
        return t


def test_declarations_match_the_header() -> None:
    header = Header(find_header().read_text())
    assert len(header.functions) == 28
    assert set(header.functions) == set(_lib.PROTOTYPES) | set(_lib.TEST_PROTOTYPES)
    for name, (ret, args) in header.functions.items():
        fn = getattr(L, name)
        assert fn.restype is header.ctype(ret), name
        assert tuple(fn.argtypes) == tuple(header.ctype(a) for a in args), name
    assert set(header.structs) == {"vlmjudge_judge_params", "vlmjudge_pair", "vlmjudge_model_params"}
    for name, fields in header.structs.items():
        assert [(f, header.ctype(t)) for f, t in fields] == list(getattr(_lib, name)._fields_), name
    for name, value in header.defines.items():
        if name == "VLMJUDGE_VERSION_MAJOR":
            assert value == vlmjudge.ABI_VERSION[0]
        elif name == "VLMJUDGE_VERSION_MINOR":
            assert value == vlmjudge.ABI_VERSION[1]
        elif name != "VLMJUDGE_VERSION_PATCH":
            assert getattr(_lib, name) == value, name
    for name, base in header.typedefs.items():  # the fixed-width typedefs
        assert getattr(_lib, name) is header.BASE[base]


def test_struct_sizes_and_abi_check() -> None:
    assert L.vlmjudge_model_default_params().struct_size == ctypes.sizeof(_lib.vlmjudge_model_params) == 40
    assert L.vlmjudge_judge_default_params().struct_size == ctypes.sizeof(_lib.vlmjudge_judge_params) == 56
    assert ctypes.sizeof(_lib.vlmjudge_pair) == 6 * ctypes.sizeof(ctypes.c_void_p)
    _lib.check_abi(L)
    _lib.check_abi(L, version="0.1.99")
    for version in ("0.2.0", "1.1.0", "garbage"):
        with pytest.raises(vlmjudge.AbiMismatchError, match="0.1|garbage"):
            _lib.check_abi(L, version=version)

    def grown(struct: Any) -> Any:  # a header with one field more than the library's
        return type("Grown", (ctypes.Structure,), {"_fields_": [*struct._fields_, ("extra", ctypes.c_uint64)]})

    def shrunk(struct: Any) -> Any:  # a header with one field fewer
        return type("Shrunk", (ctypes.Structure,), {"_fields_": struct._fields_[:-1]})

    with pytest.raises(vlmjudge.AbiMismatchError, match="vlmjudge_model_params_init.*header/library mismatch"):
        _lib.check_abi(L, model_params=grown(_lib.vlmjudge_model_params))
    with pytest.raises(vlmjudge.AbiMismatchError, match="vlmjudge_judge_params_init.*56 bytes"):
        _lib.check_abi(L, judge_params=shrunk(_lib.vlmjudge_judge_params))
    with pytest.raises(vlmjudge.AbiMismatchError, match="vlmjudge_judge_params_init"):
        _lib.check_abi(L, judge_params=grown(_lib.vlmjudge_judge_params))


def field_values(params: Any) -> Dict[str, Any]:
    return {name: getattr(params, name) for name, _ in params._fields_}


def test_params_init_writes_the_defaults_only_at_the_right_size() -> None:
    for struct, init, default in (
        (_lib.vlmjudge_model_params, L.vlmjudge_model_params_init, L.vlmjudge_model_default_params),
        (_lib.vlmjudge_judge_params, L.vlmjudge_judge_params_init, L.vlmjudge_judge_default_params),
    ):
        params = struct()
        assert init(ctypes.byref(params), ctypes.sizeof(params)) == _lib.VLMJUDGE_OK
        assert params.struct_size == ctypes.sizeof(struct)
        assert field_values(params) == field_values(default())
        # Any other size: StructSizeError naming it, and not one byte written.
        sentinel = struct.from_buffer_copy(b"\xab" * ctypes.sizeof(struct))
        for size in (ctypes.sizeof(struct) - 8, ctypes.sizeof(struct) + 8, 0):
            with pytest.raises(vlmjudge.StructSizeError, match=f"size is {size} "):
                _api._check(init(ctypes.byref(sentinel), size))
            assert bytes(sentinel) == b"\xab" * ctypes.sizeof(struct)
        with pytest.raises(vlmjudge.InvalidArgument) as e:
            _api._check(init(None, ctypes.sizeof(struct)))
        assert e.value.status == _lib.VLMJUDGE_ERR_NULL_ARGUMENT
    # What Model and Judge start from.
    assert field_values(_api._default_judge_params()) == field_values(L.vlmjudge_judge_default_params())
    assert field_values(_api._default_model_params()) == field_values(L.vlmjudge_model_default_params())


def run_import(env_changes: Dict[str, Optional[str]], pythonpath: str, cwd: Path) -> "subprocess.CompletedProcess[str]":
    """`import vlmjudge` in a fresh interpreter; cwd is an empty folder (sys.path[0])."""
    env = dict(os.environ)
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    env["PYTHONPATH"] = pythonpath
    code = "import vlmjudge; print(vlmjudge.LIBRARY_PATH)"
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_library_search_order(tmp_path: Path) -> None:
    real = vlmjudge.LIBRARY_PATH
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    # VLMJUDGE_LIBRARY wins over VLMJUDGE_LIB_DIR.
    r = run_import({"VLMJUDGE_LIBRARY": real, "VLMJUDGE_LIB_DIR": "/nonexistent"}, str(PACKAGE_ROOT), cwd)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == real
    # A wrong VLMJUDGE_LIBRARY is an error naming it, not a fall back.
    r = run_import({"VLMJUDGE_LIBRARY": "/nonexistent/libvlmjudge.so"}, str(PACKAGE_ROOT), cwd)
    assert r.returncode != 0
    assert "LibraryNotFoundError" in r.stderr and "/nonexistent/libvlmjudge.so" in r.stderr
    # A VLMJUDGE_LIB_DIR without the library: the error lists that folder.
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_import({"VLMJUDGE_LIBRARY": None, "VLMJUDGE_LIB_DIR": str(empty)}, str(PACKAGE_ROOT), cwd)
    assert r.returncode != 0
    assert "LibraryNotFoundError" in r.stderr and str(empty / _lib.LIBRARY_FILE) in r.stderr
    # Neither set: the library next to the package is used.
    site = tmp_path / "site"
    shutil.copytree(PACKAGE_ROOT / "vlmjudge", site / "vlmjudge", ignore=shutil.ignore_patterns("__pycache__"))
    (site / "vlmjudge" / _lib.LIBRARY_FILE).symlink_to(real)
    r = run_import({"VLMJUDGE_LIBRARY": None, "VLMJUDGE_LIB_DIR": None}, str(site), cwd)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(site / "vlmjudge" / _lib.LIBRARY_FILE)
    # ...and after it, ctypes.util.find_library.
    where = [w for w, _ in _lib.candidates({})]
    assert where == ["next to the package", 'ctypes.util.find_library("vlmjudge")']


# --- loading models ---------------------------------------------------------------


def test_missing_model_file() -> None:
    with pytest.raises(vlmjudge.ModelFileError) as e:
        vlmjudge.Model("/nonexistent/model.gguf")
    assert e.value.status == _lib.VLMJUDGE_ERR_IO
    assert "/nonexistent/model.gguf" in e.value.message and "/nonexistent/model.gguf" in str(e.value)
    assert isinstance(e.value, vlmjudge.ModelLoadError) and isinstance(e.value, vlmjudge.VlmjudgeError)


def test_not_a_gguf(tmp_path: Path, model_path: str) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"definitely not a model")
    with pytest.raises(vlmjudge.InvalidGgufError) as e:
        vlmjudge.Model(junk)  # os.PathLike
    assert e.value.status == _lib.VLMJUDGE_ERR_INVALID_GGUF and e.value.message
    with pytest.raises(vlmjudge.ModelLoadError) as e2:
        vlmjudge.Model(model_path, mmproj=str(junk))
    assert e2.value.status in (_lib.VLMJUDGE_ERR_INVALID_GGUF, _lib.VLMJUDGE_ERR_MMPROJ_LOAD)


def test_paths_that_are_not_utf8(tmp_path: Path, model_path: str, mmproj_path: str) -> None:
    # On Unix a path is bytes; the library takes any that the file system does.
    folder = os.fsencode(tmp_path)
    model_link = os.path.join(folder, b"model-\xff\xfe.gguf")
    mmproj_link = os.path.join(folder, b"mmproj-\xff.gguf")
    os.symlink(os.fsencode(model_path), model_link)
    os.symlink(os.fsencode(mmproj_path), mmproj_link)
    with pytest.raises(UnicodeDecodeError):
        model_link.decode("utf-8")
    # bytes, and the str and Path that os.fsdecode makes of them (surrogate escapes).
    for path, mmproj in ((model_link, mmproj_link), (os.fsdecode(model_link), Path(os.fsdecode(mmproj_link)))):
        with vlmjudge.Model(path, mmproj) as m, open_judge(m) as j:
            assert m.has_vision
            assert os.fsencode(m.path) == model_link and os.fsencode(m.mmproj or "") == mmproj_link
            assert_judged(j.judge(QUESTION, GOOD, BAD))
    # A missing file with such a name is reported, not a decoding error.
    with pytest.raises(vlmjudge.ModelFileError):
        vlmjudge.Model(os.path.join(folder, b"missing-\xff.gguf"))


def test_model_properties(model: vlmjudge.Model, model_path: str) -> None:
    assert model.has_vision is True
    assert model.path == model_path and not model.closed
    assert "open" in repr(model)


# --- judging ----------------------------------------------------------------------


def test_text_pair(judge: vlmjudge.Judge) -> None:
    v = judge.judge(QUESTION, GOOD, BAD)
    assert_judged(v)
    assert v.id == "0" and v.reasoning == ()
    assert judge.judge(QUESTION, GOOD, BAD, id="cat-legs").id == "cat-legs"
    assert judge.judge("Ünïcödé? 猫の足は何本?", "Vier. 🐈", "Sieben.", id="ïd").id == "ïd"
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.choice = "B"  # type: ignore[misc]
    # Deterministic: the same pair gives an equal verdict (raw, with its timing, is not compared).
    assert judge.judge(QUESTION, GOOD, BAD) == v and hash(judge.judge(QUESTION, GOOD, BAD)) == hash(v)


def test_reason_mode_reasoning_per_order(model: vlmjudge.Model) -> None:
    with open_judge(model, mode="reason", max_tokens=8) as j:
        v = j.judge(QUESTION, GOOD, BAD)
        assert_judged(v)
        assert len(v.reasoning) == 2 and all(isinstance(r, str) for r in v.reasoning)
        assert j.mode == "reason"
    with open_judge(model, mode="reason", max_tokens=8, swap=False) as j:
        v = j.judge(QUESTION, GOOD, BAD)
        assert v.error is None and len(v.reasoning) == 1 and v.consistent is None


def test_image_pair_bytes_and_path(judge: vlmjudge.Judge, image_path: str) -> None:
    data = Path(image_path).read_bytes()
    from_bytes = judge.judge("What colour is the square?", "Blue.", "Red.", image=data, id="img")
    assert_judged(from_bytes)
    assert (
        from_bytes.raw["tokens"]["prompt"]
        > judge.judge("What colour is the square?", "Blue.", "Red.").raw["tokens"]["prompt"]
    )  # the image's tokens are in the prompt
    for image in (image_path, Path(image_path), bytearray(data), memoryview(data)):
        assert judge.judge("What colour is the square?", "Blue.", "Red.", image=image, id="img") == from_bytes


def test_undecodable_image_is_a_verdict_error(judge: vlmjudge.Judge) -> None:
    v = judge.judge("What is in the image?", "A cat.", "A dog.", image=b"GIF89? not really", id="garbage")
    assert v.id == "garbage" and not v.ok
    assert v.error is not None and "image" in v.error
    assert v.choice is None and v.p_a is None and v.consistent is None
    assert v.raw["error"] == v.error
    empty = judge.judge("What is in the image?", "A cat.", "A dog.", image=b"")
    assert empty.error is not None and "empty" in empty.error and empty.choice is None


def test_image_without_mmproj_is_a_verdict_error(model_path: str, image_path: str) -> None:
    with vlmjudge.Model(model_path) as text_only, open_judge(text_only) as j:
        assert text_only.has_vision is False
        v = j.judge("What colour?", "Blue.", "Red.", image=image_path)
        assert v.error is not None and v.choice is None
        assert_judged(j.judge(QUESTION, GOOD, BAD))


def test_verdicts_are_freed_exactly_once(judge: vlmjudge.Judge, monkeypatch: pytest.MonkeyPatch) -> None:
    frees = FreeCounter(monkeypatch)
    judge.judge(QUESTION, GOOD, BAD)
    frees.assert_each_once(1)
    frees.freed.clear()
    judge.judge_batch([vlmjudge.Pair(QUESTION, GOOD, BAD)] * 5)
    frees.assert_each_once(5)
    # Copying a verdict out fails: it propagates, and every verdict is still freed once.
    frees.freed.clear()
    monkeypatch.setattr(L, "vlmjudge_verdict_json", lambda ptr: b"{not json")
    with pytest.raises(ValueError):
        judge.judge_batch([vlmjudge.Pair(QUESTION, GOOD, BAD)] * 4)
    frees.assert_each_once(4)


# --- batches ----------------------------------------------------------------------


def test_batch_in_input_order_with_a_bad_pair(judge: vlmjudge.Judge) -> None:
    pairs: List[Any] = []
    for i in range(7):
        q = f"Question {i}: how many legs does a cat have?"
        if i % 2:
            pairs.append({"id": f"b{i}", "question": q, "response_a": GOOD, "response_b": BAD, "label": "A"})
        else:
            pairs.append(vlmjudge.Pair(q, GOOD, BAD, id=f"b{i}"))
    pairs[4] = vlmjudge.Pair("q", GOOD, "", id="b4")  # empty response: its own verdict's error
    calls: List[Tuple[int, int]] = []
    verdicts = judge.judge_batch(iter(pairs), progress=lambda done, total: calls.append((done, total)))
    assert [v.id for v in verdicts] == [f"b{i}" for i in range(7)]
    for i, v in enumerate(verdicts):
        if i == 4:
            assert v.error is not None and "response_b" in v.error and v.choice is None
        else:
            assert_judged(v)
    assert calls == [(d, 7) for d in range(1, 8)]
    # The same pairs one at a time give equal verdicts (the library's batch invariance).
    assert judge.judge(pairs[2].question, GOOD, BAD, id="b2") == verdicts[2]
    # Ids default to the index; an empty batch is fine.
    assert [v.id for v in judge.judge_batch([vlmjudge.Pair(QUESTION, GOOD, BAD)] * 3)] == ["0", "1", "2"]
    assert judge.judge_batch([]) == []


def test_cancel_from_progress(judge: vlmjudge.Judge, monkeypatch: pytest.MonkeyPatch) -> None:
    frees = FreeCounter(monkeypatch)
    pairs = [vlmjudge.Pair(f"Q{i}?", GOOD, BAD) for i in range(6)]
    seen: List[int] = []

    def stop_after_two(done: int, total: int) -> bool:
        seen.append(done)
        return done < 2

    with pytest.raises(vlmjudge.Cancelled) as e:
        judge.judge_batch(pairs, progress=stop_after_two)
    assert seen == [1, 2]
    assert e.value.status == _lib.VLMJUDGE_ERR_CANCELLED and e.value.message
    assert isinstance(e.value, vlmjudge.JudgingError)
    assert frees.freed == []  # nothing was written, nothing to free
    # Returning None or True goes on; the judge is usable after a cancel.
    assert len(judge.judge_batch(pairs, progress=lambda d, t: None)) == 6
    assert len(judge.judge_batch(pairs, progress=lambda d, t: True)) == 6


def test_exception_in_progress_cancels_and_propagates(judge: vlmjudge.Judge) -> None:
    boom = KeyError("boom")

    def progress(done: int, total: int) -> None:
        raise boom

    with pytest.raises(KeyError) as e:
        judge.judge_batch([vlmjudge.Pair(QUESTION, GOOD, BAD)] * 3, progress=progress)
    assert e.value is boom
    assert_judged(judge.judge(QUESTION, GOOD, BAD))


CTRL_C_CHILD = """
import os, signal, sys, time, vlmjudge
# Python leaves SIGINT ignored when it starts with SIGINT ignored (a job started with
# `&` by a non-interactive shell, as CI runners may do); an interactive program has
# Python's own handler, which raises KeyboardInterrupt.
signal.signal(signal.SIGINT, signal.default_int_handler)
SECONDS = float(sys.argv[1])
model = vlmjudge.Model(os.environ["VLMJUDGE_TEST_MODEL"])
judge = vlmjudge.Judge(model, threads=1, parallel=4, ctx_per_seq=384)
pair = lambda i: vlmjudge.Pair(f"Q{i}: how many legs?", "Four.", "Seven.")
t0 = time.perf_counter()
judge.judge_batch([pair(i) for i in range(40)])
per_pair = (time.perf_counter() - t0) / 40
# A batch that takes SECONDS, however fast this machine judges: the Ctrl-C, sent
# 0.3 s after "started", must land while the batch runs.
N = max(40, int(SECONDS / per_pair))
pairs = [pair(i) for i in range(N)]
print("started", flush=True)
t0 = time.perf_counter()
try:
    judge.judge_batch(pairs)  # no progress callback of ours
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - t0, per_pair * N, flush=True)
    print("usable", judge.judge("q?", "a", "b").ok, flush=True)
"""


def test_ctrl_c_cancels_a_batch(tmp_path: Path) -> None:
    # The child sizes its batch by time (about 20 s), so the Ctrl-C sent 0.3 s after
    # "started" lands while the batch runs, however fast the machine judges.
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_CHILD, "20"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)},
    )
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "started"
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        out = child.stdout.read()
    finally:
        child.kill()
        child.wait()
    lines = out.splitlines()
    assert lines and lines[0].startswith("interrupted"), out
    elapsed, full = map(float, lines[0].split()[1:])
    assert elapsed < full / 2, (elapsed, full)
    assert lines[1] == "usable True"


# --- invalid arguments ---------------------------------------------------------------


def test_invalid_judge_and_model_arguments(model: vlmjudge.Model, model_path: str) -> None:
    with pytest.raises(vlmjudge.InvalidArgument, match="slow") as e:
        vlmjudge.Judge(model, mode="slow")  # type: ignore[arg-type]
    assert isinstance(e.value, ValueError) and e.value.status == _lib.VLMJUDGE_ERR_INVALID_ARGUMENT
    wrong_types: List[Dict[str, Any]] = [
        dict(mode=1),
        dict(parallel="8"),
        dict(swap=1),
        dict(temperature="0"),
        dict(top_k=None),
    ]
    for kw in wrong_types:
        with pytest.raises(TypeError):
            vlmjudge.Judge(model, **kw)
    out_of_range: List[Dict[str, Any]] = [
        dict(top_k=-1),
        dict(seed=2**64),
        dict(max_tokens=2**32),
        dict(temperature=float("nan")),
    ]
    for kw in out_of_range:
        with pytest.raises(vlmjudge.InvalidArgument):
            vlmjudge.Judge(model, **kw)
    # Values only the library can judge come back as its InvalidArgument with its message.
    with pytest.raises(vlmjudge.InvalidArgument, match="parallel") as e:
        vlmjudge.Judge(model, parallel=0)
    assert e.value.status == _lib.VLMJUDGE_ERR_INVALID_ARGUMENT
    with pytest.raises(vlmjudge.InvalidArgument, match="top_p"):
        vlmjudge.Judge(model, top_p=1.5)
    with pytest.raises(TypeError):
        vlmjudge.Judge("model.gguf")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vlmjudge.Model(123)  # type: ignore[arg-type]
    with pytest.raises(vlmjudge.InvalidArgument):
        vlmjudge.Model(model_path, gpu_layers=-1)
    with pytest.raises(vlmjudge.InvalidArgument):
        vlmjudge.Model(model_path + "\0.gguf")
    with pytest.raises(TypeError):
        vlmjudge.Model(model_path, use_mmap="yes")  # type: ignore[arg-type]


def test_invalid_pair_arguments(judge: vlmjudge.Judge) -> None:
    with pytest.raises(TypeError):
        judge.judge(123, GOOD, BAD)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        judge.judge(QUESTION, GOOD, BAD, image=123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        judge.judge(QUESTION, GOOD, BAD, id=5)  # type: ignore[arg-type]
    with pytest.raises(vlmjudge.InvalidArgument, match="NUL"):
        judge.judge("a\0b", GOOD, BAD)
    with pytest.raises(FileNotFoundError):
        judge.judge(QUESTION, GOOD, BAD, image="/nonexistent/image.png")
    # A str with a lone surrogate cannot be UTF-8: InvalidUtf8, as the library says for bad bytes.
    with pytest.raises(vlmjudge.InvalidUtf8) as e:
        judge.judge("caf\udce9?", GOOD, BAD)
    assert e.value.status == _lib.VLMJUDGE_ERR_INVALID_UTF8 and "question" in e.value.message
    assert isinstance(e.value.__cause__, UnicodeEncodeError)
    with pytest.raises(vlmjudge.InvalidArgument, match="lacks"):
        judge.judge_batch([{"question": QUESTION, "response_a": GOOD}])
    with pytest.raises(vlmjudge.InvalidArgument, match="respone_b"):
        judge.judge_batch([{"question": QUESTION, "response_a": GOOD, "respone_b": BAD}])
    with pytest.raises(TypeError, match="pair 1"):
        judge.judge_batch([vlmjudge.Pair(QUESTION, GOOD, BAD), 42])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="pair 1: response_b"):
        judge.judge_batch([vlmjudge.Pair(QUESTION, GOOD, BAD), vlmjudge.Pair(QUESTION, GOOD, None)])  # type: ignore
    with pytest.raises(TypeError):
        judge.judge_batch([], progress=5)  # type: ignore[arg-type]
    assert_judged(judge.judge(QUESTION, GOOD, BAD))


def test_library_status_mapping_on_raw_calls(judge: vlmjudge.Judge, model_path: str) -> None:
    # The library's own UTF-8 check (bytes Python would never send) and struct_size check.
    pair = _lib.vlmjudge_pair(None, b"caf\xc3\x28?", GOOD.encode(), BAD.encode(), None, 0)
    out = _lib.VerdictPtr()
    with judge._live().use() as ptr:
        with pytest.raises(vlmjudge.InvalidUtf8) as e:
            _api._check(L.vlmjudge_judge_pair(ptr, ctypes.byref(pair), ctypes.byref(out)))
    assert e.value.message and not out  # outputs only on success
    params = L.vlmjudge_model_default_params()
    params.struct_size -= 8
    model_out = _lib.ModelPtr()
    with pytest.raises(vlmjudge.StructSizeError) as e2:
        _api._check(L.vlmjudge_model_load(model_path.encode(), None, ctypes.byref(params), ctypes.byref(model_out)))
    assert e2.value.message and not model_out
    assert vlmjudge.VlmjudgeError(12345, "x").status_name == "status 12345"


def test_panic_maps_to_internal_error() -> None:
    with pytest.raises(vlmjudge.InternalError) as e:
        _api._test_panic()
    assert e.value.status == _lib.VLMJUDGE_ERR_PANIC
    assert "panic" in e.value.message and "VLMJUDGE_ERR_PANIC" in str(e.value)
    assert not isinstance(e.value, ValueError)


# --- threads ------------------------------------------------------------------------


def test_threads_share_a_model(model: vlmjudge.Model) -> None:
    pairs = [vlmjudge.Pair(f"Question {i}: how many legs does item {i * 7} have?", GOOD, BAD) for i in range(12)]
    with open_judge(model, parallel=5) as j:
        expected = j.judge_batch(pairs)
    assert all(v.ok for v in expected)
    results: List[Any] = [None] * 4
    barrier = threading.Barrier(4)

    def work(t: int) -> None:
        try:
            with open_judge(model, parallel=5) as j:
                barrier.wait()
                results[t] = j.judge_batch(pairs)
        except BaseException as e:  # reported below
            results[t] = e

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    for r in results:
        assert r == expected


def test_the_gil_is_released_during_calls(model: vlmjudge.Model) -> None:
    # While a thread is inside judge_batch, this thread keeps running Python: the
    # longest pause it sees is far shorter than the call (ctypes.CDLL drops the GIL;
    # with ctypes.PyDLL this thread would stand still for the whole call).
    pairs = [vlmjudge.Pair(f"Q{i}: how many legs?", GOOD, BAD) for i in range(48)]
    spinning = threading.Event()
    done = threading.Event()
    span: List[float] = []

    def work() -> None:
        try:
            with open_judge(model, parallel=4) as j:
                spinning.wait(30)
                t0 = time.perf_counter()
                j.judge_batch(pairs)
                span.append(time.perf_counter() - t0)
        finally:
            done.set()

    t = threading.Thread(target=work)
    t.start()
    longest = 0.0
    last = time.perf_counter()
    deadline = last + 120
    spinning.set()
    while not done.is_set() and last < deadline:
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    t.join()
    assert span and span[0] > 0.05
    assert longest < span[0] / 2, (longest, span[0])


def test_a_judge_refuses_concurrent_use(judge: vlmjudge.Judge) -> None:
    errors: List[BaseException] = []

    def progress(done: int, total: int) -> None:
        try:
            judge.judge(QUESTION, GOOD, BAD)  # re-entered while the batch runs
        except BaseException as e:
            errors.append(e)

    verdicts = judge.judge_batch([vlmjudge.Pair(QUESTION, GOOD, BAD)] * 2, progress=progress)
    assert len(verdicts) == 2 and all(v.ok for v in verdicts)
    assert len(errors) == 2 and all(isinstance(e, RuntimeError) and "in use" in str(e) for e in errors)


def test_cancel_from_another_thread(judge: vlmjudge.Judge, monkeypatch: pytest.MonkeyPatch) -> None:
    # Deterministic: the progress callback, on the judging thread, waits until the other
    # thread's cancel() has returned, so the request is pending when the batch goes on.
    pairs = [vlmjudge.Pair(f"Q{i}: how many legs?", GOOD, BAD, id=f"c{i}") for i in range(6)]
    expected = judge.judge_batch(pairs)
    first_done = threading.Event()
    cancel_returned = threading.Event()
    canceller_errors: List[BaseException] = []

    def canceller() -> None:
        try:
            assert first_done.wait(60)
            judge.cancel()  # judge_batch is running on the main thread
        except BaseException as e:  # reported below
            canceller_errors.append(e)
        finally:
            cancel_returned.set()

    seen: List[int] = []

    def progress(done: int, total: int) -> bool:
        seen.append(done)
        if done == 1:
            first_done.set()
            assert cancel_returned.wait(60)
        return True  # never asks to stop: cancel() does

    frees = FreeCounter(monkeypatch)
    t = threading.Thread(target=canceller)
    t.start()
    with pytest.raises(vlmjudge.Cancelled) as e:
        judge.judge_batch(pairs, progress=progress)
    t.join(60)
    assert not t.is_alive() and canceller_errors == []
    assert e.value.status == _lib.VLMJUDGE_ERR_CANCELLED and e.value.message
    # Stopped right after the cancel: at most the pairs in flight with the first one
    # (parallel=4) were reported, and nothing was written, so nothing is freed.
    assert 1 <= len(seen) <= 4 and seen[0] == 1
    assert frees.freed == []
    # The request was used up: the judge works afterwards, with the same results.
    assert judge.judge_batch(pairs) == expected


def test_cancel_with_no_call_running_cancels_the_next_call_only(judge: vlmjudge.Judge) -> None:
    expected = judge.judge(QUESTION, GOOD, BAD)
    judge.cancel()
    with pytest.raises(vlmjudge.Cancelled):
        judge.judge(QUESTION, GOOD, BAD)
    assert judge.judge(QUESTION, GOOD, BAD) == expected
    judge.cancel()
    judge.cancel()  # two requests before a call are still one request
    calls: List[int] = []
    with pytest.raises(vlmjudge.Cancelled):
        judge.judge_batch([vlmjudge.Pair(QUESTION, GOOD, BAD)] * 3, progress=lambda d, t: calls.append(d))
    assert calls == []  # stopped before any pair was judged
    assert judge.judge_batch([vlmjudge.Pair(QUESTION, GOOD, BAD, id="0")] * 2) == [expected] * 2
    # Callable from inside the judge's own call (the progress callback), where every
    # other method raises RuntimeError: the batch stops after that pair.
    def stop(done: int, total: int) -> None:
        judge.cancel()

    with pytest.raises(vlmjudge.Cancelled):
        judge.judge_batch([vlmjudge.Pair(QUESTION, GOOD, BAD)] * 8, progress=stop)
    assert judge.judge(QUESTION, GOOD, BAD) == expected
    judge.close()
    with pytest.raises(vlmjudge.ClosedError):
        judge.cancel()


# --- logging ------------------------------------------------------------------------


def test_log_callback_receives_lines_during_load(model_path: str, mmproj_path: str) -> None:
    lines: List[Tuple[vlmjudge.LogLevel, str]] = []
    lock = threading.Lock()

    def collect(level: vlmjudge.LogLevel, line: str) -> None:
        with lock:
            lines.append((level, line))

    try:
        vlmjudge.set_log_callback(collect)
        with vlmjudge.Model(model_path, mmproj_path):
            pass
    finally:
        vlmjudge.set_log_callback(None)
    assert len(lines) > 0
    assert all(isinstance(level, vlmjudge.LogLevel) for level, _ in lines)
    assert all(isinstance(line, str) and not line.endswith("\n") for _, line in lines)
    assert any("gguf" in line.lower() or "model" in line.lower() for _, line in lines)
    count = len(lines)
    with vlmjudge.Model(model_path):
        pass
    assert len(lines) == count  # None stops the lines
    with pytest.raises(TypeError):
        vlmjudge.set_log_callback("print")  # type: ignore[arg-type]


def test_a_raising_log_callback_does_not_break_loading(model_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reported: List[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    def broken(level: vlmjudge.LogLevel, line: str) -> None:
        raise RuntimeError("log callback failed")

    try:
        vlmjudge.set_log_callback(broken)
        with vlmjudge.Model(model_path) as m:
            assert not m.closed
    finally:
        vlmjudge.set_log_callback(None)
    assert reported and isinstance(reported[0].exc_value, RuntimeError)


def test_inside_the_log_callback(model_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A Model finalized there (say by a garbage collection) is freed later, outside the
    # library's logging path; set_log_callback() there raises instead of deadlocking.
    freed: List[int] = []
    real_free = L.vlmjudge_model_free

    def counting_free(ptr: Any) -> None:
        freed.append(1)
        real_free(ptr)

    monkeypatch.setattr(L, "vlmjudge_model_free", counting_free)
    doomed = [vlmjudge.Model(model_path)]
    seen: Dict[str, Any] = {}

    def on_log(level: vlmjudge.LogLevel, line: str) -> None:
        if doomed:
            doomed.pop()  # the last reference: Model.__del__ runs here
            seen["freed_inside"] = len(freed)
            try:
                vlmjudge.set_log_callback(None)
            except RuntimeError as e:
                seen["error"] = e

    try:
        vlmjudge.set_log_callback(on_log)
        with vlmjudge.Model(model_path):
            pass
    finally:
        vlmjudge.set_log_callback(None)
    assert seen["freed_inside"] == 0 and "inside the log callback" in str(seen["error"])
    assert len(freed) == 2  # the doomed model (deferred) and the one loaded


# --- lifetimes ----------------------------------------------------------------------


def test_use_after_close_raises(model_path: str, mmproj_path: str) -> None:
    m = vlmjudge.Model(model_path, mmproj_path)
    j = open_judge(m)
    m.close()
    m.close()  # idempotent
    assert m.closed and "closed" in repr(m)
    with pytest.raises(vlmjudge.ClosedError):
        _ = m.has_vision
    with pytest.raises(vlmjudge.ClosedError):
        open_judge(m)
    assert_judged(j.judge(QUESTION, GOOD, BAD))  # a judge keeps its model alive
    j.close()
    with pytest.raises(vlmjudge.ClosedError) as e:
        j.judge(QUESTION, GOOD, BAD)
    assert isinstance(e.value, vlmjudge.InvalidArgument) and e.value.status == _lib.VLMJUDGE_ERR_NULL_ARGUMENT
    with pytest.raises(vlmjudge.ClosedError):
        j.judge_batch([])
    with vlmjudge.Model(model_path) as m2, open_judge(m2) as j2:
        pass
    assert m2.closed and j2.closed


def test_close_inside_a_call_is_deferred(judge: vlmjudge.Judge) -> None:
    verdicts = judge.judge_batch([vlmjudge.Pair(QUESTION, GOOD, BAD)] * 3, progress=lambda d, t: judge.close())
    assert len(verdicts) == 3 and all(v.ok for v in verdicts)
    assert judge.closed
    with pytest.raises(vlmjudge.ClosedError):
        judge.judge(QUESTION, GOOD, BAD)


def test_finalizers_free_once(model_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    freed: Dict[str, int] = {"model": 0, "judge": 0}
    real_model_free, real_judge_free = L.vlmjudge_model_free, L.vlmjudge_judge_free

    def model_free(ptr: Any) -> None:
        freed["model"] += 1
        real_model_free(ptr)

    def judge_free(ptr: Any) -> None:
        freed["judge"] += 1
        real_judge_free(ptr)

    monkeypatch.setattr(L, "vlmjudge_model_free", model_free)
    monkeypatch.setattr(L, "vlmjudge_judge_free", judge_free)
    m = vlmjudge.Model(model_path)
    j = open_judge(m)
    del m, j  # no close(): __del__ frees
    gc.collect()
    assert freed == {"model": 1, "judge": 1}
    m = vlmjudge.Model(model_path)
    j = open_judge(m)
    j.close()
    m.close()
    del m, j  # closed, then finalized: no second free
    gc.collect()
    assert freed == {"model": 2, "judge": 2}
    with pytest.raises(vlmjudge.ModelFileError):
        vlmjudge.Model("/nonexistent.gguf")  # a failed __init__ leaves nothing to free
    gc.collect()
    assert freed == {"model": 2, "judge": 2}


def test_a_lora_path_that_is_not_an_adapter_is_refused(model_path: str) -> None:
    with pytest.raises(vlmjudge.VlmjudgeError) as info:
        vlmjudge.Model(model_path, lora=model_path)
    assert info.value.status == _lib.VLMJUDGE_ERR_INVALID_GGUF
    assert "not a LoRA adapter" in str(info.value)
