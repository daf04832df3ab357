"""Plain data across the wall between the student's process and the grader's.

The hardened grader never unpickles anything the student's process sends. A message is a JSON
header plus raw byte buffers: tensors and arrays travel as their bytes with a dtype and a shape
from a fixed list, PIL images as their pixels, containers as JSON, and every other object stays
where it lives and crosses as a numbered *handle* (``{"handle": n, ...}``). Decoding builds only
types this module names; sizes and nesting are bounded, so a hostile peer can make a call fail
but cannot run code in the decoder or exhaust the grader's memory.

Frame: the number of buffers (4 bytes), the header's length (4 bytes), the UTF-8 JSON header,
then for each buffer an 8-byte length and its bytes (all big-endian).
"""

from __future__ import annotations

import json
import math
import pathlib
import socket
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

MAX_HEADER = 16 << 20  # bytes of JSON in one message
MAX_BYTES = 1 << 30  # bytes of tensor/array/image data in one message
MAX_DEPTH = 32
MAX_ITEMS = 1_000_000

DTYPES: dict[str, torch.dtype] = {
    str(d).removeprefix("torch."): d
    for d in (
        torch.bool,
        torch.uint8,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
        torch.complex64,
        torch.complex128,
    )
}
NUMPY_KINDS = set("biufc")  # bool, int, uint, float, complex: never object or void
IMAGE_MODES = {"1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "I;16"}


class WireError(ValueError):
    """A message that is malformed, too large, or holds a type that may not cross."""


# --- encoding ------------------------------------------------------------------------------


def _tensor_bytes(t: torch.Tensor) -> bytes:
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    return flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""


class Encoder:
    """Turn a value into (header, buffers); ``handle_of`` decides what to do with other objects."""

    def __init__(self, handle_of: Callable[[Any], dict] | None = None) -> None:
        self.buffers: list[bytes] = []
        self.size = 0
        self.items = 0
        self.handle_of = handle_of

    def _buffer(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > MAX_BYTES:
            raise WireError(f"more than {MAX_BYTES >> 20} MiB of data in one value")
        self.buffers.append(data)
        return len(self.buffers) - 1

    def encode(self, value: Any, depth: int = 0) -> Any:
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise WireError("the value is nested too deeply or holds too many items")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and type(value) in (int, bool):
            return value if abs(value) < 2**53 else {"int": str(value)}
        if type(value) is float:
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, torch.Tensor):
            return self._tensor(value)
        if isinstance(value, torch.Size):
            return {"size": [int(v) for v in value]}
        if isinstance(value, (list, tuple)):  # subclasses (namedtuples) arrive as the base
            base = list if isinstance(value, list) else tuple
            return {base.__name__: [self.encode(v, depth + 1) for v in base.__iter__(value)]}
        if isinstance(value, dict):
            return {"dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                             for k, v in dict.items(value)]}  # fmt: skip
        if type(value) in (set, frozenset):
            return {"set": [self.encode(v, depth + 1) for v in value]}
        if type(value) is complex:
            return {"complex": [value.real, value.imag]}
        if type(value) is bytes:
            return {"bytes": self._buffer(value)}
        if isinstance(value, torch.dtype):
            return {"dtype": str(value).removeprefix("torch.")}
        if isinstance(value, torch.device):
            return {"device": str(value)}
        if type(value) is slice:
            return {
                "slice": [self.encode(v, depth + 1) for v in (value.start, value.stop, value.step)]
            }
        if type(value) is range:
            return {"range": [value.start, value.stop, value.step]}
        if isinstance(value, pathlib.PurePath):
            return {"path": str(value)}
        if isinstance(value, np.ndarray) and value.dtype.kind in NUMPY_KINDS:
            data = np.ascontiguousarray(value)
            return {"ndarray": self._buffer(data.tobytes()), "dtype": data.dtype.str,
                    "shape": list(data.shape)}  # fmt: skip
        if isinstance(value, np.generic) and value.dtype.kind in NUMPY_KINDS:
            return {"npscalar": self._buffer(value.tobytes()), "dtype": value.dtype.str}
        image = _pil_image(value)
        if image is not None:
            return image(self)
        if self.handle_of is None:
            raise WireError(f"a {type(value).__name__} cannot be sent")
        return self.handle_of(value)

    def _tensor(self, t: torch.Tensor) -> dict:
        if t.layout != torch.strided or t.is_quantized:
            raise WireError(f"a {t.layout} tensor cannot be sent")
        dtype = str(t.dtype).removeprefix("torch.")
        if dtype not in DTYPES:
            raise WireError(f"a tensor of dtype {t.dtype} cannot be sent")
        head = {
            "shape": [int(s) for s in t.shape],
            "dtype": dtype,
            "device": str(t.device),
            "requires_grad": bool(t.requires_grad),
            "parameter": isinstance(t, torch.nn.Parameter),
        }
        head["tensor"] = None if t.device.type == "meta" else self._buffer(_tensor_bytes(t))
        return head


def _pil_image(value: Any) -> Callable[[Encoder], dict] | None:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - PIL ships with torchvision
        return None
    if not isinstance(value, Image.Image):
        return None

    def encode(enc: Encoder) -> dict:
        if value.mode not in IMAGE_MODES:
            raise WireError(f"a PIL image of mode {value.mode} cannot be sent")
        return {"image": enc._buffer(value.tobytes()), "mode": value.mode,
                "size": list(value.size)}  # fmt: skip

    return encode


def encode(value: Any, handle_of: Callable[[Any], dict] | None = None) -> tuple[Any, list[bytes]]:
    enc = Encoder(handle_of)
    return enc.encode(value), enc.buffers


# --- decoding ------------------------------------------------------------------------------


def _device(name: str) -> torch.device:
    device = torch.device(name)
    if device.type not in ("cpu", "cuda", "meta", "mps"):
        raise WireError(f"unknown device {name!r}")
    return device


class Decoder:
    """Build values from (header, buffers); ``from_handle`` turns handle dicts into objects."""

    def __init__(self, buffers: list[bytes], from_handle: Callable[[dict], Any] | None = None):
        self.buffers = buffers
        self.from_handle = from_handle

    def _buf(self, index: Any) -> bytes:
        if type(index) is not int or not 0 <= index < len(self.buffers):
            raise WireError("a buffer index is out of range")
        return self.buffers[index]

    def decode(self, node: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("the value is nested too deeply")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            raise WireError("a bare list in a message")
        if not isinstance(node, dict) or not node:
            raise WireError("a malformed value")
        d = depth + 1
        if "list" in node:
            return [self.decode(v, d) for v in node["list"]]
        if "tuple" in node:
            return tuple(self.decode(v, d) for v in node["tuple"])
        if "dict" in node:
            return {self.decode(k, d): self.decode(v, d) for k, v in node["dict"]}
        if "set" in node:
            return {self.decode(v, d) for v in node["set"]}
        if "tensor" in node:
            return self._tensor(node)
        if "image" in node:
            from PIL import Image

            if node["mode"] not in IMAGE_MODES:
                raise WireError(f"a PIL image of mode {node['mode']!r} cannot be received")
            width, height = (int(v) for v in node["size"])
            return Image.frombytes(node["mode"], (width, height), self._buf(node["image"]))
        if "int" in node:
            return int(str(node["int"]))
        if "float" in node:
            return float(str(node["float"]))
        if "complex" in node:
            re, im = node["complex"]
            return complex(float(re), float(im))
        if "bytes" in node:
            return bytes(self._buf(node["bytes"]))
        if "dtype" in node and len(node) == 1:
            if node["dtype"] not in DTYPES:
                raise WireError(f"unknown dtype {node['dtype']!r}")
            return DTYPES[node["dtype"]]
        if "device" in node:
            return _device(str(node["device"]))
        if "size" in node:
            return torch.Size(int(v) for v in node["size"])
        if "slice" in node:
            return slice(*(self.decode(v, d) for v in node["slice"]))
        if "range" in node:
            return range(*(int(v) for v in node["range"]))
        if "path" in node:
            return pathlib.Path(str(node["path"]))
        if "ndarray" in node:
            dtype = np.dtype(str(node["dtype"]))
            if dtype.kind not in NUMPY_KINDS:
                raise WireError(f"an array of dtype {dtype} cannot be received")
            shape = tuple(int(s) for s in node["shape"])
            return np.frombuffer(self._buf(node["ndarray"]), dtype=dtype).reshape(shape).copy()
        if "npscalar" in node:
            dtype = np.dtype(str(node["dtype"]))
            if dtype.kind not in NUMPY_KINDS:
                raise WireError(f"a scalar of dtype {dtype} cannot be received")
            return np.frombuffer(self._buf(node["npscalar"]), dtype=dtype)[0]
        if "handle" in node and self.from_handle is not None:
            return self.from_handle(node)
        raise WireError(f"a value of unknown kind {sorted(node)[:3]}")

    def _tensor(self, node: dict) -> torch.Tensor:
        if node["dtype"] not in DTYPES:
            raise WireError(f"unknown dtype {node['dtype']!r}")
        dtype = DTYPES[node["dtype"]]
        shape = tuple(int(s) for s in node["shape"])
        if any(s < 0 for s in shape):
            raise WireError("a negative tensor size")
        device = _device(str(node["device"]))
        if device.type == "meta":
            t = torch.empty(shape, dtype=dtype, device="meta")
        else:
            data = self._buf(node["tensor"])
            count = math.prod(shape)
            carrier = torch.uint8 if dtype == torch.bool else dtype
            if len(data) != count * torch.empty((), dtype=carrier).element_size():
                raise WireError("a tensor's bytes do not match its shape and dtype")
            if count:
                flat = torch.frombuffer(bytearray(data), dtype=torch.uint8).view(carrier)
            else:
                flat = torch.empty(0, dtype=carrier)
            t = flat.reshape(shape).to(dtype)
            if device.type != "cpu":
                t = t.to(device)
        if node.get("parameter") is True:
            return torch.nn.Parameter(t, requires_grad=bool(node.get("requires_grad")))
        if node.get("requires_grad") is True and (t.is_floating_point() or t.is_complex()):
            t.requires_grad_(True)
        return t


def decode(header: Any, buffers: list[bytes], from_handle: Callable[[dict], Any] | None = None):
    return Decoder(buffers, from_handle).decode(header)


# --- framing -------------------------------------------------------------------------------


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("the other side closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def send(sock: socket.socket, header: Any, buffers: list[bytes] = ()) -> None:
    head = json.dumps(header, allow_nan=False).encode()
    parts = [struct.pack(">I", len(head)), head]
    for b in buffers:
        parts += [struct.pack(">Q", len(b)), b]
    sock.sendall(struct.pack(">I", len(buffers)) + b"".join(parts))


def recv(sock: socket.socket) -> tuple[Any, list[bytes]]:
    (count,) = struct.unpack(">I", _recv_exactly(sock, 4))
    (size,) = struct.unpack(">I", _recv_exactly(sock, 4))
    if size > MAX_HEADER or count > MAX_ITEMS:
        raise WireError("a message header is too large")
    header = json.loads(_recv_exactly(sock, size))
    buffers, total = [], 0
    for _ in range(count):
        (n,) = struct.unpack(">Q", _recv_exactly(sock, 8))
        total += n
        if total > MAX_BYTES:
            raise WireError(f"more than {MAX_BYTES >> 20} MiB of data in one message")
        buffers.append(_recv_exactly(sock, n))
    return header, buffers
