"""Write the course's stand-in for CIFAR-10: data/cifar-10-batches-py (about 3.6 MB).

No machine of the course can download CIFAR-10, so the notebooks ship a small *synthetic* sample
in the exact on-disk format of the python version of CIFAR-10: ``data_batch_1`` .. ``data_batch_5``,
``test_batch`` and ``batches.meta``, each a dict pickled with protocol 2 whose keys and strings are
Python 2 ``str`` (bytes on Python 3 with ``encoding="bytes"``, str with ``encoding="latin1"`` as
torchvision reads them). ``b"data"`` is a uint8 array of shape (N, 3072): the red, green and blue
32×32 planes, each row-major.

The images are *not* photographs: each class is a coloured shape on a coloured background
(an airplane is a white cross on sky blue, a frog a green disk on dark green, ...) with jittered
position, size, colours and pixel noise, so that a figure of the sample means something.

Everything is integer arithmetic on NumPy's legacy ``RandomState`` (its stream is frozen), so the
files are byte-for-byte reproducible; their sha256 are in data/SHA256SUMS and autograder/cifar.py.

Usage: python data/make_cifar_sample.py [OUTPUT_ROOT]   (default: the folder of this script)
"""

from __future__ import annotations

import pickle
import struct
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np

FOLDER = "cifar-10-batches-py"
LABEL_NAMES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
TRAIN_PER_BATCH = 200
TEST_PER_CLASS = 20
SEED = 20261122

# (background RGB, foreground RGB) per class
COLOURS = [
    ((135, 180, 230), (245, 245, 245)),  # airplane: white cross on sky blue
    ((105, 105, 110), (200, 30, 30)),  # automobile: red box on a gray road
    ((190, 220, 240), (90, 60, 30)),  # bird: small brown triangle on pale sky
    ((215, 195, 160), (225, 130, 35)),  # cat: orange head with ears on beige
    ((70, 130, 55), (150, 100, 55)),  # deer: tall brown ellipse on green
    ((200, 200, 190), (130, 85, 40)),  # dog: brown disk on light gray
    ((35, 75, 30), (120, 210, 60)),  # frog: bright green disk on dark green
    ((160, 175, 85), (95, 55, 25)),  # horse: dark brown diagonal band on dry grass
    ((180, 210, 235), (120, 120, 125)),  # ship: gray hull on blue water under sky
    ((125, 125, 125), (235, 200, 40)),  # truck: big yellow box on gray
]
WATER = (30, 70, 160)
YY, XX = np.mgrid[0:32, 0:32]


def _mask(label: int, cy: int, cx: int, s: int) -> np.ndarray:
    """The foreground of class ``label`` centred at (cy, cx) with size ``s`` (integers only)."""
    dy, dx = YY - cy, XX - cx
    if label == 0:  # airplane: long wings and a fuselage
        return ((abs(dy) <= 1) & (abs(dx) <= s + 5)) | ((abs(dx) <= 1) & (abs(dy) <= s))
    if label == 1:  # automobile: a wide low box
        return (abs(dx) <= s + 4) & (dy >= -2) & (dy <= s // 2 + 2)
    if label == 2:  # bird: a small triangle pointing down
        return (dy >= -3) & (dy <= 3) & (abs(dx) <= 3 - dy)
    if label == 3:  # cat: a disk and two triangular ears
        head = dy * dy + dx * dx <= s * s
        ears = (dy < -s + 4) & (dy >= -s - 3) & (abs(abs(dx) - s // 2 - 1) <= (dy + s + 3) // 2)
        return head | ears
    if label == 4:  # deer: a tall ellipse
        return 4 * dx * dx + dy * dy <= s * s + 16
    if label == 5:  # dog: a disk
        return dy * dy + dx * dx <= s * s
    if label == 6:  # frog: a flat disk
        return dy * dy * 2 + dx * dx <= s * s + 8
    if label == 7:  # horse: a diagonal band
        return abs(dy - dx) <= s // 2 + 1
    if label == 8:  # ship: a hull on the horizon
        return (dy >= -1) & (dy <= 3) & (abs(dx) <= s + 4 - dy)
    return (abs(dx) <= s + 2) & (abs(dy) <= s)  # truck: a big box


def make_image(label: int, rng: np.random.RandomState) -> np.ndarray:
    """One (32, 32, 3) uint8 image of class ``label``."""
    bg, fg = COLOURS[label]
    jitter = rng.randint(-20, 21, size=(2, 3))
    img = np.empty((32, 32, 3), dtype=np.int64)
    img[:] = np.array(bg) + jitter[0]
    if label == 8:  # water below the horizon
        img[16:] = np.array(WATER) + jitter[0]
    cy, cx = rng.randint(12, 21), rng.randint(11, 22)
    if label == 8:
        cy = 16
    s = rng.randint(5, 9)
    mask = _mask(label, cy, cx, s)
    if rng.randint(2):
        mask = mask[:, ::-1]
    img[mask] = np.array(fg) + jitter[1]
    noise = rng.randint(-12, 13, size=(32, 32, 3)) + rng.randint(-12, 13, size=(32, 32, 3))
    return np.clip(img + noise, 0, 255).astype(np.uint8)


class _Python2Pickler(pickle._Pickler):  # the pure-Python pickler lets us choose opcodes
    """Pickles bytes as Python 2 ``str`` and NumPy globals under their historical names."""

    dispatch = pickle._Pickler.dispatch.copy()
    GLOBALS: ClassVar[dict[int, bytes]] = {
        id(np.ndarray): b"numpy\nndarray\n",
        id(np.dtype): b"numpy\ndtype\n",
        id(np.ndarray.__reduce__(np.zeros(1))[0]): b"numpy.core.multiarray\n_reconstruct\n",
    }

    def save_bytes(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes

    def save_global(self, obj, name=None) -> None:
        self.write(pickle.GLOBAL + self.GLOBALS[id(obj)])
        self.memoize(obj)


def dump(obj: dict, path: Path) -> None:
    """Write ``obj`` like the original files: pickle protocol 2, Python 2 strings."""
    with open(path, "wb") as f:
        _Python2Pickler(f, protocol=2).dump(obj)


def make_batch(labels: list[int], rng: np.random.RandomState, batch_label: bytes, start: int):
    images = np.stack([make_image(k, rng) for k in labels])  # (N, 32, 32, 3)
    data = np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(labels), 3072))
    names = [f"sample_{LABEL_NAMES[k]}_{start + i:06d}.png".encode() for i, k in enumerate(labels)]
    return {b"batch_label": batch_label, b"labels": labels, b"data": data, b"filenames": names}


def write_sample(root: Path) -> Path:
    """Write root/cifar-10-batches-py and return that folder."""
    folder = Path(root) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(SEED)
    for b in range(1, 6):
        labels = [int(k) for k in rng.randint(0, 10, size=TRAIN_PER_BATCH)]
        start = (b - 1) * TRAIN_PER_BATCH
        batch = make_batch(labels, rng, f"training batch {b} of 5".encode(), start)
        dump(batch, folder / f"data_batch_{b}")
    labels = [int(k) for k in rng.permutation(np.repeat(np.arange(10), TEST_PER_CLASS))]
    test = make_batch(labels, rng, b"testing batch 1 of 1", 5 * TRAIN_PER_BATCH)
    dump(test, folder / "test_batch")
    meta = {
        b"num_cases_per_batch": TRAIN_PER_BATCH,
        b"label_names": [name.encode() for name in LABEL_NAMES],
        b"num_vis": 3072,
    }
    dump(meta, folder / "batches.meta")
    return folder


if __name__ == "__main__":
    out = write_sample(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
    print("wrote", out)
