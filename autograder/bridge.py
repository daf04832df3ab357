"""Calls across the wall: test code uses the student's objects without sharing a process.

The hardened grader runs test cells in a *trusted* kernel that never executes student code; the
student's notebook runs in its own (sandboxed) kernel. A name a test cell uses but did not define
(``corr2d``, ``Conv2D``, a variable) is fetched from the student's kernel: plain data by value
(tensors as raw bytes, see wire.py), everything else as a :class:`Remote` proxy whose calls,
attributes, items, length and iteration are requests to the student's process. Objects the test
passes to the student (a dataset, a transform) cross the other way as proxies too.

Each request carries the caller's random-number states, grad mode and default dtype, and the
checking contexts that must wrap the student's code (``SameDevice``, ``forbid``); the reply brings
the states back, so a seeded test behaves as if everything ran in one process.

The student's side is hostile: its replies are only ever data. Requests *from* the student's
process may only call, index, iterate and read public attributes of what the test gave it.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import random
import socket
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from autograder import cellgraph, wire

#: Ops the student's process may ask of the grader's objects.
STUDENT_MAY = {"call", "getattr", "getitem", "len", "iter", "next", "bool", "repr", "release"}
#: Modules whose classes a proxy may claim as bases (for isinstance checks).
TRUSTED_MODULES = ("builtins", "collections", "torch", "torchvision", "numpy", "PIL", "typing")
_EXIT_LIKE = (SystemExit, KeyboardInterrupt, GeneratorExit)
#: Special attributes a proxy asks the other process for; other dunders stay local.
_DUNDERS = {"__doc__", "__module__", "__getitem__", "__len__", "__iter__", "__next__"}


class StudentError(Exception):
    """An exception raised by the student's code whose type does not exist on this side."""


class BridgeError(RuntimeError):
    """The other process stopped answering, or broke the protocol."""


# --- state that crosses with every request --------------------------------------------------


def _python_rng() -> tuple:
    """``random.getstate()`` with its 625 words as one uint32 array: it crosses as a single
    buffer rather than as 625 JSON numbers (most of a round trip's encoding time otherwise)."""
    version, internal, gauss = random.getstate()
    return version, np.array(internal, dtype=np.uint32), gauss


def _context() -> dict:
    from autograder import checks, devices

    modes = torch.overrides._get_current_function_mode_stack()
    ctx = {
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": list(np.random.get_state()),
        "python_rng": _python_rng(),
        "grad": torch.is_grad_enabled(),
        "default_dtype": torch.get_default_dtype(),
        "same_device": any(isinstance(m, devices.SameDevice) for m in modes),
        "forbid": [[list(names), covered] for names, covered in checks.FORBIDDEN],
        "meta_spy": bool(devices.MetaWriteSpy.ACTIVE),
    }
    if torch.cuda.is_available():
        ctx["cuda_rng"] = torch.cuda.get_rng_state_all()
    return ctx


def _restore(ctx: dict, rng_only: bool = False) -> None:
    torch.set_rng_state(ctx["torch_rng"])
    state = ctx["numpy_rng"]
    np.random.set_state((str(state[0]), state[1], int(state[2]), int(state[3]), float(state[4])))
    version, internal, gauss = ctx["python_rng"]
    internal = internal.tolist() if isinstance(internal, np.ndarray) else internal
    random.setstate((version, tuple(internal), gauss))
    if "cuda_rng" in ctx and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(ctx["cuda_rng"])
    if not rng_only:
        torch.set_grad_enabled(bool(ctx["grad"]))
        torch.set_default_dtype(ctx["default_dtype"])


class _Wrapped:
    """Enter the caller's checking contexts around the code that runs here."""

    def __init__(self, ctx: dict, namespace: dict) -> None:
        from contextlib import ExitStack

        self.ctx, self.namespace, self.stack = ctx, namespace, ExitStack()
        self.spy = None

    def __enter__(self) -> _Wrapped:
        from autograder import checks, devices

        _restore(self.ctx)
        for names, covered in self.ctx.get("forbid", []):
            namespace = self.namespace if covered else None
            self.stack.enter_context(checks.forbid(*names, namespace=namespace))
        if self.ctx.get("same_device"):
            self.stack.enter_context(devices.SameDevice())
        if self.ctx.get("meta_spy"):
            self.spy = self.stack.enter_context(devices.MetaWriteSpy())
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stack.close()

    def findings(self) -> list[str]:
        return list(self.spy.found) if self.spy is not None else []


# --- proxies ----------------------------------------------------------------------------------


def _trusted_class(name: str) -> type | None:
    module, _, qualname = name.partition(":")
    if module.split(".")[0] not in TRUSTED_MODULES:
        return None
    obj: Any = sys.modules.get(module)
    if obj is None:
        return None  # never import on a peer's say-so
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, type) else None


_STAND_INS: dict[tuple, type] = {}


#: Types that always cross by value (wire.py): an object claiming one of them is lying.
_BY_VALUE = (
    torch.Tensor, torch._C.TensorBase, np.ndarray, np.generic, torch.dtype, torch.device,
    torch.Size, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset,
    slice, range, type, BaseException,
)  # fmt: skip


def _stand_in(mro: list[str]) -> type | None:
    """A local class with the trusted bases the peer's object claims, for isinstance checks.

    Only classes of trusted libraries count, and never one whose instances cross by value (a
    "tensor" that arrives as a proxy is a forgery: ``isinstance(x, torch.Tensor)`` stays False).
    """
    from PIL import Image

    bases: list[type] = []
    for name in mro:
        cls = _trusted_class(name)
        if cls is None or cls is object or issubclass(cls, (*_BY_VALUE, Image.Image)):
            continue
        if not any(issubclass(b, cls) for b in bases):
            bases.append(cls)
    if not bases:
        return None
    key = tuple(bases)
    if key not in _STAND_INS:
        for candidate in (key, key[:1]):
            try:
                _STAND_INS[key] = type("Remote" + key[0].__name__, candidate, {})
                break
            except Exception:  # incompatible bases: fall back to the first alone
                continue
    return _STAND_INS.get(key)


class Remote:
    """An object that lives in the other process; every use is a request to it."""

    __slots__ = ("_cnn_desc", "_cnn_endpoint")

    def __init__(self, endpoint: Endpoint, desc: dict) -> None:
        object.__setattr__(self, "_cnn_endpoint", endpoint)
        object.__setattr__(self, "_cnn_desc", desc)

    def _cnn(self, op: str, **body: Any) -> Any:
        return self._cnn_endpoint.request(op, target=self._cnn_desc["handle"], **body)

    @property
    def __class__(self) -> type:  # isinstance(proxy, torch.nn.Module) and friends
        return _stand_in(self._cnn_desc.get("mro", [])) or type(self)

    def __getattr__(self, name: str) -> Any:
        if name in ("__name__", "__qualname__") and name in self._cnn_desc:
            return self._cnn_desc[name]
        if name.startswith("_cnn") or (name.startswith("__") and name not in _DUNDERS):
            raise AttributeError(name)  # protocol probes (__array__, __globals__) stay local
        return self._cnn("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot set {name!r} on an object of the other process")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._cnn("call", args=args, kwargs=kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._cnn("getitem", key=key)

    def __len__(self) -> int:
        n = self._cnn("len")
        if type(n) is not int:
            raise TypeError("len() of the other process's object is not an int")
        return n

    def __iter__(self) -> Iterator[Any]:
        return self._cnn("iter")

    def __next__(self) -> Any:
        return self._cnn("next")

    def __bool__(self) -> bool:
        return self._cnn("bool") is True

    def __repr__(self) -> str:
        try:
            text = self._cnn("repr")
        except Exception:
            text = None
        return text if isinstance(text, str) else f"<{self._cnn_desc.get('type', 'object')}>"

    __str__ = __repr__


def _typed_remote(desc: dict) -> type:
    """A Remote subclass named like the peer's class, so messages show ``type(x).__name__``."""
    name = str(desc.get("type", "object")).rpartition(".")[2] or "object"
    if not name.isidentifier():
        name = "object"
    return type(name, (Remote,), {"__slots__": ()})


# --- one side of a connection ---------------------------------------------------------------


class Endpoint:
    """One side of a connection: sends requests, serves the other side's, keeps exports."""

    def __init__(self, side: str, namespace: dict | None = None, trusted: bool = False) -> None:
        self.side = side
        self.namespace = namespace if namespace is not None else {}
        self.trusted = trusted  # True on the grader's side: restrict what the peer may ask
        self.sock: socket.socket | None = None
        self.table: dict[int, Any] = {}
        self.ids: dict[int, int] = {}
        self.timeout: float | None = None

    # encoding with handles
    def export(self, obj: Any) -> dict:
        if isinstance(obj, Remote) and obj._cnn_endpoint is self:
            return dict(obj._cnn_desc)
        if isinstance(obj, types.ModuleType):
            raise wire.WireError(f"the module {obj.__name__} cannot be sent")
        key = id(obj)
        if key not in self.ids:
            self.ids[key] = n = len(self.table) + 1
            self.table[n] = obj
        cls = type(obj)
        desc = {
            "handle": self.ids[key],
            "side": self.side,
            "type": f"{cls.__module__}.{cls.__qualname__}",
            "mro": [f"{c.__module__}:{c.__qualname__}" for c in cls.__mro__],
        }
        for attr in ("__name__", "__qualname__"):
            value = getattr(obj, attr, None) if callable(obj) else None
            if isinstance(value, str):
                desc[attr] = value
        return desc

    def imported(self, desc: dict) -> Any:
        if desc.get("side") == self.side:
            try:
                return self.table[int(desc["handle"])]
            except (KeyError, ValueError, TypeError):
                raise wire.WireError("an unknown handle") from None
        return _typed_remote(desc)(self, desc)

    def _send(self, kind: str, op: str, body: Any) -> None:
        header, buffers = wire.encode(body, self.export)
        wire.send(self.sock, {"kind": kind, "op": op, "body": header}, buffers)

    def _recv(self) -> tuple[dict, Any]:
        header, buffers = wire.recv(self.sock)
        if not isinstance(header, dict) or header.get("kind") not in ("req", "rep"):
            raise wire.WireError("a malformed message")
        try:
            body = wire.decode(header.get("body"), buffers, self.imported)
        except wire.WireError:
            raise
        except Exception as error:  # e.g. an unhashable dict key
            raise wire.WireError(f"a malformed value ({type(error).__name__})") from None
        return header, body

    # the requesting side
    def request(self, op: str, **body: Any) -> Any:
        if self.sock is None:
            raise BridgeError("no connection to the other process")
        body["ctx"] = _context()
        try:
            self.sock.settimeout(self.timeout)
            self._send("req", op, body)
            while True:
                header, reply = self._recv()
                if header["kind"] == "req":
                    self._serve_one(header["op"], reply)
                    continue
                break
        except TimeoutError:
            self.close()
            raise TimeoutError(
                f"the student's code did not answer within {self.timeout:g} s"
            ) from None
        except (ConnectionError, OSError, wire.WireError, ValueError) as error:
            self.close()
            raise BridgeError(f"the student's process stopped answering ({error})") from None
        if not isinstance(reply, dict):
            raise BridgeError("a malformed reply")
        if isinstance(reply.get("ctx"), dict):
            # the grader takes back only the random states (a seeded test must continue where
            # the student's code left the generators); grad mode and default dtype stay its own
            _restore(reply["ctx"], rng_only=self.trusted)
        self._report_findings(reply.get("meta_writes"))
        if "error" in reply:
            raise _rebuild(reply["error"])
        return reply.get("value")

    @staticmethod
    def _report_findings(found: Any) -> None:
        from autograder.devices import MetaWriteSpy

        if isinstance(found, list) and found and MetaWriteSpy.ACTIVE:
            MetaWriteSpy.ACTIVE[-1].found.extend(str(f) for f in found)

    # the serving side
    def serve(self) -> None:
        """Answer requests until the other side closes the connection."""
        while True:
            try:
                header, body = self._recv()
            except (ConnectionError, OSError, wire.WireError, ValueError):
                return
            if header["kind"] == "req":
                self._serve_one(header["op"], body)

    def _serve_one(self, op: str, body: Any) -> None:
        ctx = body.get("ctx") if isinstance(body, dict) else None
        wrapped = None
        try:
            if not isinstance(body, dict) or not isinstance(ctx, dict):
                raise wire.WireError("a malformed request")
            if self.trusted and op not in STUDENT_MAY:
                raise PermissionError(f"the student's process may not ask for {op!r}")
            wrapped = _Wrapped(ctx, self.namespace)
            with wrapped:
                value = self._perform(op, body)
            reply = {"value": value, "ctx": _context(), "meta_writes": wrapped.findings()}
            header, buffers = wire.encode(reply, self.export)
        except BaseException as error:  # the student's code may raise anything, even SystemExit
            reply = {"error": _describe(error)}
            if wrapped is not None:  # what the spies saw before the code failed counts too
                reply["meta_writes"] = wrapped.findings()
            try:
                reply["ctx"] = _context()
            except Exception:
                pass
            header, buffers = wire.encode(reply, self.export)
        wire.send(self.sock, {"kind": "rep", "op": op, "body": header}, buffers)

    def _perform(self, op: str, body: dict) -> Any:
        if op == "globals":
            return self._globals(body.get("names", []))
        if op == "run":
            return self._run(body["source"], body["function"], body["args"], body["kwargs"])
        target = self.table[int(body["target"])]
        if op == "call":
            return target(*body.get("args", ()), **body.get("kwargs", {}))
        if op == "getattr":
            name = str(body["name"])
            if self.trusted and name.startswith("_"):
                raise AttributeError(name)
            value = getattr(target, name)
            if self.trusted and isinstance(value, types.ModuleType):
                raise AttributeError(name)
            return value
        if op == "getitem":
            return target[body["key"]]
        if op == "len":
            return len(target)
        if op == "iter":
            return iter(target)
        if op == "next":
            return next(target)
        if op == "bool":
            return bool(target)
        if op == "repr":
            return repr(target)[:500]
        raise ValueError(f"unknown op {op!r}")

    def _globals(self, names: list) -> dict:
        found = {}
        for name in names:
            if not isinstance(name, str) or name not in self.namespace:
                continue
            value = self.namespace[name]
            if isinstance(value, types.ModuleType):
                found[name] = {"module": value.__name__}
            else:
                found[name] = {"value": value}
        return found

    def _run(self, source: str, function: str, args: tuple, kwargs: dict) -> Any:
        scope = dict(self.namespace)
        exec(compile(source, "<grader's student-side check>", "exec"), scope)
        return scope[function](*args, **kwargs)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


def _describe(error: BaseException) -> dict:
    cls = type(error)
    return {
        "type": cls.__name__,
        "module": cls.__module__,
        "message": str(error)[:4000],
        "traceback": "".join(traceback.format_exception(error))[-4000:],
    }


def _rebuild(desc: Any) -> BaseException:
    """The peer's exception as a local one: builtin types keep their type, exits do not exit."""
    from autograder.checks import CheckFailure

    if not isinstance(desc, dict):
        return BridgeError("a malformed error")
    name, module = str(desc.get("type", "Exception")), str(desc.get("module", ""))
    message = str(desc.get("message", ""))
    if module == "autograder.checks" and name == "CheckFailure":
        return CheckFailure(message)
    cls = getattr(builtins, name, None) if module == "builtins" else None
    if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, _EXIT_LIKE):
        try:
            return cls(message)
        except Exception:
            pass
    if not name.isidentifier():
        name = "StudentError"
    return type(name, (StudentError,), {"__module__": "student"})(message)


# --- the two ends as used by the grader -------------------------------------------------------

_STUDENT = Endpoint("student")


def serve(path: str, namespace: dict | None = None) -> None:
    """In the student's kernel: connect to the grader's kernel and answer until it hangs up."""
    if namespace is None:
        namespace = sys.modules["__main__"].__dict__
        try:
            namespace = get_ipython().user_ns  # type: ignore[name-defined]
        except NameError:
            pass
    _STUDENT.namespace = namespace
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    _STUDENT.sock = sock
    try:
        _STUDENT.serve()
    finally:
        _STUDENT.close()


class Grader:
    """In the trusted kernel: listen for the student's kernel and resolve names from it."""

    def __init__(self, path: str, namespace: dict, timeout: float = 120.0) -> None:
        self.endpoint = Endpoint("grader", namespace, trusted=True)
        self.endpoint.timeout = timeout
        self.namespace = namespace
        self.fetched: dict[str, Any] = {}
        self.accept_timeout = 20.0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):  # left by a trusted kernel that died
            os.unlink(path)
        self.listener.bind(path)
        # a sandboxed student kernel may run as another uid; the folder is the sandbox's own
        os.chmod(path, 0o777)
        self.listener.listen(1)

    def begin(self, accept_timeout: float = 20.0) -> bool:
        """Accept the student's connection for one cell; False if it never came."""
        self.end()
        self.listener.settimeout(accept_timeout)
        try:
            sock, _ = self.listener.accept()
        except TimeoutError:
            return False
        self.endpoint.sock = sock
        return True

    def end(self) -> None:
        self.endpoint.close()

    def resolve(self, code: str) -> None:
        """Fetch from the student every name ``code`` reads that this kernel did not define."""
        wanted = [
            n
            for n in free_names(code)
            if not hasattr(builtins, n)
            and (n not in self.namespace or self.namespace[n] is self.fetched.get(n, object()))
        ]
        if not wanted or self.endpoint.sock is None:
            return
        found = self.endpoint.request("globals", names=wanted)
        if not isinstance(found, dict):
            return
        for name, entry in found.items():
            if not isinstance(name, str) or not isinstance(entry, dict):
                continue
            if "value" in entry:
                value = entry["value"]
            else:
                continue
            self.namespace[name] = self.fetched[name] = value

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a grader-written function (plain source) in the student's process."""
        import inspect
        import textwrap

        source = textwrap.dedent(inspect.getsource(fn))
        lines = source.splitlines()
        while lines and lines[0].lstrip().startswith("@"):
            lines.pop(0)
        return self.endpoint.request(
            "run", source="\n".join(lines), function=fn.__name__, args=args, kwargs=kwargs
        )


def free_names(code: str) -> list[str]:
    """Names ``code`` reads (at any depth) that it does not bind at its top level."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= cellgraph.imported(node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    loaded = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    return sorted(loaded - bound)


# --- what test cells call ---------------------------------------------------------------------

GRADER: Grader | None = None  # set in the trusted kernel by the hardened grader


def on_student(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a test helper that must run next to the student's objects.

    Under plain nbgrader (one kernel) it is the function itself. Under the hardened grader it
    runs in the student's process, from its source, with the student's names in scope; its
    arguments and result cross as data (tensors, numbers, strings, lists, dicts, images), any
    other object as a handle (a student's object handed in arrives as itself). Besides
    watching the student's code, it saves round trips: a loop over a student's object (an
    epoch of a loader, the items of a dataset) runs there in one request instead of one per
    item. Only the *verdict* is trusted: compare what it returns in the test cell, not inside.
    """
    if GRADER is None:
        return fn

    def remote(*args: Any, **kwargs: Any) -> Any:
        return GRADER.run(fn, *args, **kwargs)

    remote.__name__ = fn.__name__
    return remote
