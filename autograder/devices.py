"""Which devices the tests run on, how precisely they compare, and how inputs are made.

The policy that makes one test pass on CPU and on CUDA:

* inputs are built on the CPU from a seeded generator, then moved to the device under test;
* TF32 is switched off, so CUDA matmuls and convolutions keep float32 precision;
* comparisons happen in float64 on the CPU, with a tolerance chosen by the dtype under test.

A CPU-only grader still catches device bugs: :func:`meta_probe` calls a function on tensors on
PyTorch's ``meta`` device (shapes without data); a function that creates a tensor without
``device=`` returns a CPU tensor there, which is the bug that breaks on a GPU.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
import torch

#: Absolute and relative tolerances by dtype, used when a check does not name its own.
TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float16: (1e-2, 1e-2),
    torch.bfloat16: (2e-2, 2e-2),
    torch.float32: (1e-5, 1e-4),
    torch.float64: (1e-10, 1e-8),
}
EXACT = (0.0, 0.0)


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """(atol, rtol) for comparing a result of this dtype; integers and bools compare exactly."""
    return TOLERANCES.get(dtype, EXACT)


def disable_tf32() -> None:
    """Keep float32 matmuls and convolutions at full precision on CUDA (Ampere and newer)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def devices_under_test() -> list[torch.device]:
    """The devices a test runs on: the CPU always, the GPU when there is one.

    ``CNN_TEST_DEVICES=cpu`` (comma-separated) overrides the choice, e.g. to time a CPU run on a
    GPU machine.
    """
    wanted = os.environ.get("CNN_TEST_DEVICES")
    if wanted:
        return [torch.device(name.strip()) for name in wanted.split(",") if name.strip()]
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    return devices


def same_device(a: torch.device, b: torch.device) -> bool:
    """True when two devices are the same; ``cuda`` and ``cuda:0`` count as one."""
    if a.type != b.type:
        return False
    if a.type != "cuda":
        return True
    index = torch.cuda.current_device() if torch.cuda.is_available() else 0
    return (a.index if a.index is not None else index) == (
        b.index if b.index is not None else index
    )


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (the CPU, and the GPUs when CUDA is available) at once.

    Not ``torch.manual_seed``: for every accelerator torch was built for (CUDA, XPU, MTIA) that
    is not initialised, it queues the seeding with a formatted stack trace of the caller, about
    1 ms per call in a kernel (a stat of every frame's file); a hidden test that seeds in a loop
    paid ~60 ms per notebook for GPUs the machine does not have.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.random.default_generator.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _cuda_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with every generator seeded, restoring the previous states afterwards."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=_cuda_devices()):
        seed_everything(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def generator(seed: int) -> torch.Generator:
    """A CPU generator for building test inputs reproducibly on every machine."""
    return torch.Generator().manual_seed(seed)


def rand(*shape: int, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Uniform [0, 1) values built on the CPU (move them with ``.to(device)``)."""
    return torch.rand(*shape, generator=generator(seed), dtype=dtype)


def randn(*shape: int, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal values built on the CPU."""
    return torch.randn(*shape, generator=generator(seed), dtype=dtype)


def randint(low: int, high: int, shape: tuple[int, ...], *, seed: int, dtype=torch.int64):
    """Integers in [low, high) built on the CPU."""
    return torch.randint(low, high, shape, generator=generator(seed), dtype=dtype)


def to_meta(value: Any) -> Any:
    """A copy of a tensor (or of the tensors in a tuple/list/dict) on the meta device."""
    if isinstance(value, torch.Tensor):
        return value.to("meta")
    if isinstance(value, (list, tuple)):
        return type(value)(to_meta(v) for v in value)
    if isinstance(value, dict):
        return {k: to_meta(v) for k, v in value.items()}
    return value


#: Calls that legitimately take tensors on two devices (they move or copy data).
_MOVES = {"to", "copy_", "__setitem__", "_has_compatible_shallow_copy_type", "set_", "__set__"}


class SameDevice(torch.overrides.TorchFunctionMode):
    """Fail any torch call whose tensor arguments live on two devices.

    On the meta device some kernels (conv2d among them) do not check devices themselves, so a
    CPU weight meeting a meta input would pass unnoticed; on a GPU the same call fails.
    Zero-dimensional tensors are exempt, as PyTorch lets CPU scalars meet any device.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "a call")
        if name in _MOVES or name.startswith("new_") or name.endswith("_as"):
            return func(*args, **kwargs)
        flat = [*args, *kwargs.values()]
        flat += [t for a in flat if isinstance(a, (list, tuple)) for t in a]
        found = {str(t.device) for t in flat if isinstance(t, torch.Tensor) and t.dim() > 0}
        if len(found) > 1:
            raise RuntimeError(f"{name} got tensors on two devices: {sorted(found)}")
        return func(*args, **kwargs)


class MetaWriteSpy:
    """Record writes of meta-device values into CPU tensors, the bug ``SameDevice`` cannot see.

    ``Y = torch.zeros(h, w)`` followed by ``Y[i, j] = (X[i:i+kh, j:j+kw] * K).sum()`` builds the
    result on the CPU; with meta inputs the copy fails inside PyTorch ("Cannot copy out of meta
    tensor"), which a probe cannot tell from a function that merely reads values. The spy sees
    the attempted write. Under the hardened grader the same spy runs in the student's process
    (bridge.py repeats every open spy there and reports what it found).
    """

    ACTIVE: ClassVar[list[MetaWriteSpy]] = []
    _ATTRS = ("__setitem__", "copy_")

    def __init__(self) -> None:
        self.found: list[str] = []
        self._own: dict[str, Any] = {}

    def __enter__(self) -> MetaWriteSpy:
        self._own = {attr: torch.Tensor.__dict__.get(attr) for attr in self._ATTRS}
        originals = {attr: getattr(torch.Tensor, attr) for attr in self._ATTRS}

        def spy(attr: str) -> Callable[..., Any]:
            def wrapper(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
                if tensor.device.type == "cpu" and any(
                    isinstance(a, torch.Tensor) and a.device.type == "meta" for a in args
                ):
                    self.found.append(attr)
                return originals[attr](tensor, *args, **kwargs)

            return wrapper

        for attr in self._ATTRS:
            setattr(torch.Tensor, attr, spy(attr))
        MetaWriteSpy.ACTIVE.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if MetaWriteSpy.ACTIVE and MetaWriteSpy.ACTIVE[-1] is self:
            MetaWriteSpy.ACTIVE.pop()
        for attr, original in self._own.items():
            if original is None:
                delattr(torch.Tensor, attr)
            else:
                setattr(torch.Tensor, attr, original)


def meta_probe(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> torch.device | str | None:
    """Run ``fn`` on meta-device copies of its arguments and report what that reveals.

    Returns the device of the (first) tensor result; or, when the call failed because tensors on
    two devices met (what would also fail on a GPU), the error text; or None when the probe is
    inconclusive: the function reads values (``.item()``, NumPy) or returns no tensor, which is
    not a bug, so the caller ignores it.
    """
    try:
        with torch.no_grad(), SameDevice():
            out = fn(*to_meta(args), **to_meta(kwargs))
    except Exception as error:
        text = str(error)
        if "device" in text and "numpy" not in text:
            return text.splitlines()[0] if text else type(error).__name__
        return None
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        out = out[0]
    return out.device if isinstance(out, torch.Tensor) else None


disable_tf32()
