"""What the notebooks' test cells call.

Every check is a pure comparison of data: the test cell builds inputs, calls the student's
function (through :func:`call`) and hands the result and the expected value to a check. A check
raises :class:`CheckFailure` (an ``AssertionError``) whose message names the mistake; it prints
nothing, so a failing cell shows one clear line and a passing cell shows nothing at all.

``check_tensor`` checks, in this order: type, shape, dtype, device, values. When the result
matches a known wrong answer passed in ``mistakes`` (a transposed result, a flipped kernel, ...),
the message says so.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from autograder import messages as M
from autograder.devices import meta_probe, same_device, tolerance

Mistake = tuple[Any, str]
"""A known wrong answer and the hint to show when the student's result equals it."""


class CheckFailure(AssertionError):
    """A student's answer failed a check; the message says why."""


def _fail(message: str) -> None:
    __tracebackhide__ = True  # IPython shows the student the message, not our frames
    raise CheckFailure(message)


def _fmt_shape(shape: Sequence[int]) -> str:
    return str(tuple(int(s) for s in shape))


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {_fmt_shape(value.shape)}"
    kind = type(value)
    module = "" if kind.__module__ == "builtins" else kind.__module__.split(".")[0] + "."
    return f"a {module}{kind.__name__}"


# --- calling student code -------------------------------------------------------


def call(fn: Callable[..., Any], *args: Any, name: str | None = None, **kwargs: Any) -> Any:
    """Call a student's function so that its warnings and stderr never reach the cell output.

    nbgrader gives zero to a test cell that writes to stderr, and a harmless torch warning in a
    correct answer must not cost points. ``NotImplementedError`` (the release's placeholder)
    becomes a message that says the exercise is not done yet.
    """
    __tracebackhide__ = True  # IPython shows the student the message, not our frames
    label = name or getattr(fn, "__name__", "your function")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stderr(io.StringIO()):
            try:
                return fn(*args, **kwargs)
            except NotImplementedError:
                _fail(M.NOT_IMPLEMENTED.format(name=label))


# --- tensors ------------------------------------------------------------------------


def _matches(actual: torch.Tensor, candidate: Any, atol: float, rtol: float) -> bool:
    if not isinstance(candidate, torch.Tensor) or tuple(candidate.shape) != tuple(actual.shape):
        return False
    a = actual.detach().to("cpu", torch.float64)
    c = candidate.detach().to("cpu", torch.float64)
    return bool(torch.allclose(a, c, atol=max(atol, 1e-12), rtol=rtol))


def _mistake_hint(actual: torch.Tensor, mistakes: Sequence[Mistake], atol: float, rtol: float):
    for candidate, hint in mistakes:
        if _matches(actual, candidate, atol, rtol):
            return hint
    return ""


def _shape_hint(actual: tuple[int, ...], expected: tuple[int, ...]) -> str:
    if len(actual) == len(expected) == 3 and actual == (expected[1], expected[2], expected[0]):
        return M.SHAPE_HWC_VS_CHW
    if len(actual) == len(expected) == 3 and actual == (expected[2], expected[0], expected[1]):
        return M.SHAPE_CHW_VS_HWC
    if len(actual) == len(expected) >= 2 and actual == expected[:-2] + expected[-2:][::-1]:
        return M.SHAPE_TRANSPOSED
    if len(actual) == len(expected):
        diffs = [(i, a - e) for i, (a, e) in enumerate(zip(actual, expected)) if a != e]
        if len(diffs) >= 1 and all(abs(d) <= 2 for _, d in diffs):
            axis, delta = diffs[0]
            return M.SHAPE_OFF_BY_ONE.format(axis=axis, delta=f"{delta:+d}")
    without_ones = tuple(s for s in expected if s != 1)
    if len(actual) + 1 == len(expected) and actual == without_ones:
        return M.SHAPE_MISSING_AXIS
    if len(actual) == len(expected) + 1 and tuple(s for s in actual if s != 1) == without_ones:
        return M.SHAPE_EXTRA_AXIS
    return ""


def _dtype_hint(actual: torch.dtype, expected: torch.dtype) -> str:
    if expected.is_floating_point and not actual.is_floating_point:
        return M.DTYPE_INT_VS_FLOAT
    if expected == torch.float32 and actual == torch.float64:
        return M.DTYPE_FLOAT64
    if expected == torch.uint8 and actual.is_floating_point:
        return M.DTYPE_FLOAT_VS_UINT8
    return ""


def _value_hint(a: torch.Tensor, e: torch.Tensor, atol: float, rtol: float) -> str:
    if a.ndim >= 2 and a.shape[-1] == a.shape[-2]:
        if torch.allclose(a.transpose(-1, -2), e, atol=atol, rtol=rtol):
            return M.VALUES_TRANSPOSED
    scale = max(atol, 1e-6)
    if e.abs().max() > 0:
        if torch.allclose(a, e * 255, atol=scale * 255, rtol=max(rtol, 1e-3)):
            return M.VALUES_SCALED_255
        if torch.allclose(a * 255, e, atol=scale * 255, rtol=max(rtol, 1e-3)):
            return M.VALUES_SCALED_1_255
    return ""


def _fmt_value(x: float) -> str:
    return f"{x:.6g}"


def check_tensor(
    actual: Any,
    expected: torch.Tensor,
    name: str,
    *,
    atol: float | None = None,
    rtol: float | None = None,
    check_dtype: bool = True,
    mistakes: Sequence[Mistake] = (),
) -> None:
    """Check a tensor result: type, shape, dtype, device, then values.

    ``expected`` carries the expected dtype and device. Values compare in float64 on the CPU,
    with the tolerance for ``expected.dtype`` unless ``atol``/``rtol`` are given. ``mistakes``
    lists known wrong answers with the hint to give when the result equals one of them.
    """
    __tracebackhide__ = True  # IPython shows the student the message, not our frames
    default_atol, default_rtol = tolerance(expected.dtype)
    atol = default_atol if atol is None else atol
    rtol = default_rtol if rtol is None else rtol
    if actual is None:
        _fail(M.RETURNED_NONE.format(name=name))
    if not isinstance(actual, torch.Tensor):
        _fail(M.WRONG_TYPE.format(name=name, expected="a torch.Tensor", actual=_describe(actual)))
    # the known mistakes are compared only once the answer is wrong: a right answer pays nothing
    if tuple(actual.shape) != tuple(expected.shape):
        hint = _mistake_hint(actual, mistakes, atol, rtol) or _shape_hint(
            tuple(actual.shape), tuple(expected.shape)
        )
        _fail(
            M.WRONG_SHAPE.format(
                name=name, actual=_fmt_shape(actual.shape), expected=_fmt_shape(expected.shape)
            )
            + hint
        )
    if check_dtype and actual.dtype != expected.dtype:
        hint = _mistake_hint(actual, mistakes, atol, rtol) or _dtype_hint(
            actual.dtype, expected.dtype
        )
        _fail(M.WRONG_DTYPE.format(name=name, actual=actual.dtype, expected=expected.dtype) + hint)
    if actual.device.type != "meta" and not same_device(actual.device, expected.device):
        _fail(M.WRONG_DEVICE.format(name=name, actual=actual.device, expected=expected.device))
    a = actual.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    bad_actual = ~torch.isfinite(a) & torch.isfinite(e)
    if bad_actual.any():
        index = tuple(int(i) for i in torch.nonzero(bad_actual)[0])
        _fail(M.VALUES_NOT_FINITE.format(name=name, index=index))
    close = torch.isclose(a, e, atol=atol, rtol=rtol, equal_nan=True)
    if bool(close.all()):
        return
    wrong = torch.nonzero(~close)
    index = tuple(int(i) for i in wrong[0])
    diff = (a - e).abs().nan_to_num(0.0)
    hint = _mistake_hint(actual, mistakes, atol, rtol) or _value_hint(a, e, atol, rtol)
    _fail(
        M.WRONG_VALUES.format(
            name=name,
            count=len(wrong),
            total=a.numel(),
            index=index,
            actual=_fmt_value(float(a[index])),
            expected=_fmt_value(float(e[index])),
            max_diff=float(diff.max()),
        )
        + hint
    )


def check_shape(actual: Any, expected: Sequence[int], name: str) -> None:
    """Check only the type and shape of a tensor result."""
    __tracebackhide__ = True  # IPython shows the student the message, not our frames
    if actual is None:
        _fail(M.RETURNED_NONE.format(name=name))
    if not isinstance(actual, torch.Tensor):
        _fail(M.WRONG_TYPE.format(name=name, expected="a torch.Tensor", actual=_describe(actual)))
    got, want = tuple(actual.shape), tuple(int(s) for s in expected)
    if got != want:
        _fail(
            M.WRONG_SHAPE.format(name=name, actual=_fmt_shape(got), expected=_fmt_shape(want))
            + _shape_hint(got, want)
        )


def check_device_follows_input(fn: Callable[..., Any], *args: Any, name: str) -> None:
    """Fail if ``fn`` mixes devices, as seen by running it on meta-device inputs.

    This finds ``torch.zeros(shape)`` or ``torch.tensor(weights)`` without ``device=`` on a
    machine with no GPU. A function that cannot run on meta tensors for another reason (it
    reads values) is given the benefit of the doubt.
    """
    __tracebackhide__ = True  # IPython shows the student the message, not our frames
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stderr(io.StringIO()):
            found = meta_probe(fn, *args)
    if isinstance(found, str):
        _fail(M.META_DEVICE_MIX.format(name=name, error=found))
    if found is not None and found.type != "meta":
        _fail(M.META_DEVICE.format(name=name, actual=found))


# --- scalars and plain values ---------------------------------------------------------


def check_close(
    actual: Any, expected: float, name: str, *, atol: float = 1e-6, rtol: float = 1e-6
) -> None:
    """Check a real number (a Python number or a one-element tensor)."""
    __tracebackhide__ = True  # IPython shows the student the message, not our frames
    if actual is None:
        _fail(M.RETURNED_NONE.format(name=name))
    if isinstance(actual, torch.Tensor) and actual.numel() == 1:
        actual = actual.item()
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        _fail(M.WRONG_TYPE.format(name=name, expected="a number", actual=_describe(actual)))
    tol = atol + rtol * abs(expected)
    if not math.isfinite(actual) or abs(actual - expected) > tol:
        _fail(M.NOT_CLOSE.format(name=name, actual=actual, expected=expected, tol=tol))


def check_equal(actual: Any, expected: Any, name: str, *, hint: str = "") -> None:
    """Check a value that must be exactly equal (an int, a tuple of ints, a string...)."""
    __tracebackhide__ = True  # IPython shows the student the message, not our frames
    if actual is None and expected is not None:
        _fail(M.RETURNED_NONE.format(name=name))
    if (
        isinstance(actual, torch.Tensor)
        and actual.numel() == 1
        and not isinstance(expected, torch.Tensor)
    ):
        actual = actual.item()
    if isinstance(expected, tuple) and isinstance(actual, (list, torch.Size)):
        actual = tuple(actual)
    if type(expected) is int and isinstance(actual, float) and actual.is_integer():
        _fail(M.WRONG_TYPE.format(name=name, expected="an int", actual=f"the float {actual}"))
    if actual != expected:
        _fail(M.NOT_EQUAL.format(name=name, actual=actual, expected=expected) + hint)


# --- forbidding library shortcuts ----------------------------------------------------


def _resolve(dotted: str) -> tuple[Any, str, Any]:
    module_name, _, attr = dotted.rpartition(".")
    try:
        owner = importlib.import_module(module_name)
    except ImportError:
        parent, _, cls = module_name.rpartition(".")
        owner = getattr(importlib.import_module(parent), cls)
    return owner, attr, getattr(owner, attr)


def _blocker(dotted: str) -> Callable[..., Any]:
    def blocked(*args: Any, **kwargs: Any) -> Any:
        _fail(M.FORBIDDEN_CALL.format(function=dotted))

    return blocked


#: (names, whether the student's globals are covered) of every ``forbid`` block now open: the
#: hardened grader repeats them where the student's code runs.
FORBIDDEN: list[tuple[tuple[str, ...], bool]] = []


@contextlib.contextmanager
def forbid(
    *names: str, within: Callable[..., Any] | None = None, namespace: dict | None = None
) -> Iterator[None]:
    """Make calling the named functions (dotted paths) fail with a clear message.

    Aliases are blocked too: every attribute of ``torch``, ``torch.nn.functional`` and of
    ``within``'s module globals (or of ``namespace``) that *is* one of the named objects is
    replaced for the duration.
    Classes (e.g. ``torch.nn.Conv2d``) are blocked by replacing their ``forward``.
    """
    labels: dict[int, str] = {}
    patches: list[tuple[Any, str, Any, str]] = []  # (owner, attribute, original, label)
    for dotted in names:
        owner, attr, obj = _resolve(dotted)
        if isinstance(obj, type):
            patches.append((obj, "forward", obj.__dict__.get("forward"), dotted))
        else:
            labels[id(obj)] = dotted
            patches.append((owner, attr, obj, dotted))
    from autograder.bridge import Remote

    namespaces: list[Any] = [vars(torch), vars(torch.nn.functional)]
    if namespace is not None:
        namespaces.append(namespace)
    elif within is not None and not isinstance(within, Remote) and hasattr(within, "__globals__"):
        namespaces.append(within.__globals__)
    seen = {(id(p[0]), p[1]) for p in patches}
    for ns in namespaces:
        for attr, obj in list(ns.items()):
            if id(obj) in labels and (id(ns), attr) not in seen:
                patches.append((ns, attr, obj, labels[id(obj)]))
                seen.add((id(ns), attr))
    entry = (names, within is not None or namespace is not None)
    try:
        for owner, attr, _original, label in patches:
            if isinstance(owner, dict):
                owner[attr] = _blocker(label)
            else:
                setattr(owner, attr, _blocker(label))
        FORBIDDEN.append(entry)
        yield
    finally:
        if FORBIDDEN and FORBIDDEN[-1] is entry:
            FORBIDDEN.pop()
        for owner, attr, original, _label in reversed(patches):
            if isinstance(owner, dict):
                owner[attr] = original
            elif original is None:
                delattr(owner, attr)
            else:
                setattr(owner, attr, original)
