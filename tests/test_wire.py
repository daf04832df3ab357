"""Does plain data cross intact, and does everything else fail to cross?"""

from __future__ import annotations

import pathlib
import socket
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from autograder import wire


def roundtrip(value):
    header, buffers = wire.encode(value)
    return wire.decode(header, buffers)


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -(2**70), 1.5, "text", b"\x00\xff", 2 + 3j, [1, (2, "x")], {"a": 1, 2: [3]},
     {1, 2}, slice(1, None, 2), range(3, 9, 2), torch.float16, torch.device("cpu"),
     torch.Size([2, 3]), pathlib.Path("/tmp/x")],
)  # fmt: skip
def test_plain_values_roundtrip(value):
    assert roundtrip(value) == value
    assert type(roundtrip(value)) is type(value) or isinstance(value, pathlib.PurePath)


def test_non_finite_floats_roundtrip():
    assert roundtrip(float("inf")) == float("inf")
    assert np.isnan(roundtrip(float("nan")))


@pytest.mark.parametrize("dtype", list(wire.DTYPES.values()))
def test_tensors_keep_dtype_shape_and_values(dtype):
    t = (torch.arange(12, dtype=torch.float64).reshape(3, 4) - 5).to(dtype)
    back = roundtrip(t.t())  # non-contiguous on purpose
    assert back.dtype == dtype and back.shape == (4, 3)
    assert torch.equal(back, t.t())


def test_tensor_flags_and_special_tensors():
    grad = roundtrip(torch.ones(2, requires_grad=True))
    assert grad.requires_grad and grad.grad_fn is None
    param = roundtrip(torch.nn.Parameter(torch.zeros(3)))
    assert isinstance(param, torch.nn.Parameter)
    meta = roundtrip(torch.empty(5, 2, device="meta"))
    assert meta.device.type == "meta" and meta.shape == (5, 2)
    assert roundtrip(torch.empty(0, 3)).shape == (0, 3)
    assert roundtrip(torch.tensor(7)).item() == 7


def test_container_subclasses_arrive_as_their_base():
    from collections import OrderedDict, namedtuple

    pair = namedtuple("Pair", "x y")(1, 2)
    assert roundtrip(pair) == (1, 2) and type(roundtrip(pair)) is tuple
    assert type(roundtrip(OrderedDict(a=1))) is dict


def test_tensor_subclasses_arrive_as_plain_tensors():
    class Sneaky(torch.Tensor):
        pass

    back = roundtrip(torch.ones(2).as_subclass(Sneaky))
    assert type(back) is torch.Tensor


def test_arrays_and_images():
    a = np.arange(6, dtype=np.int16).reshape(2, 3)
    assert np.array_equal(roundtrip(a), a) and roundtrip(a).dtype == np.int16
    assert roundtrip(np.float32(2.5)) == np.float32(2.5)
    image = Image.fromarray(np.arange(24, dtype=np.uint8).reshape(2, 4, 3))
    back = roundtrip(image)
    assert back.mode == "RGB" and np.array_equal(np.array(back), np.array(image))


@pytest.mark.parametrize(
    "value", [object(), np.array([object()]), torch, print, type("K", (), {})()]
)
def test_other_objects_do_not_cross_without_a_handle_policy(value):
    with pytest.raises(wire.WireError):
        wire.encode(value)


def test_objects_cross_as_handles_when_the_sender_allows_it():
    header, _ = wire.encode([object()], handle_of=lambda obj: {"handle": 7})
    assert wire.decode(header, [], from_handle=lambda node: ("remote", node["handle"])) == [
        ("remote", 7)
    ]


@pytest.mark.parametrize(
    "header, buffers",
    [
        ({"tensor": 0, "dtype": "float32", "shape": [3], "device": "cpu"}, [b"\0" * 8]),
        ({"tensor": 5, "dtype": "float32", "shape": [1], "device": "cpu"}, []),
        ({"tensor": 0, "dtype": "object", "shape": [1], "device": "cpu"}, [b"\0" * 8]),
        ({"ndarray": 0, "dtype": "|O", "shape": [1]}, [b"\0" * 8]),
        ({"image": 0, "mode": "XYZ", "size": [1, 1]}, [b"\0"]),
        ({"pickle": "gASVAAAAAAAAAAA="}, []),
        ({"handle": 1}, []),  # no handle policy on this side
        ([1, 2], []),
    ],
)
def test_malformed_or_forbidden_values_are_refused(header, buffers):
    with pytest.raises(wire.WireError):
        wire.decode(header, buffers)


def test_nesting_is_bounded():
    deep: list = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError):
        wire.encode(deep)


def test_frames_roundtrip_and_oversized_headers_are_refused():
    a, b = socket.socketpair()
    with a, b:
        header, buffers = wire.encode({"x": torch.arange(4)})
        wire.send(a, header, buffers)
        got_header, got_buffers = wire.recv(b)
        assert torch.equal(wire.decode(got_header, got_buffers)["x"], torch.arange(4))
        a.sendall(struct.pack(">I", 0) + struct.pack(">I", wire.MAX_HEADER + 1))
        with pytest.raises(wire.WireError):
            wire.recv(b)
