"""Find and load CIFAR-10 (python version) safely: the real data when present, else the sample.

Unpickling runs code, so no file is unpickled before its checksum is known: a real file must
have the md5 that torchvision lists for it (``CIFAR10.train_list``/``test_list``/``meta``), a
sample file (data/cifar-10-batches-py, written by data/make_cifar_sample.py) the sha256 below.
A missing folder raises ``FileNotFoundError`` saying where to get the data; a damaged file
raises :class:`ChecksumError`, never a pickle traceback.

The real data set lives in ``$CNN_CIFAR_ROOT`` (default ``~/.cache/cnn-foundations/cifar10``);
:func:`locate_cifar10` downloads it there only when ``CNN_DOWNLOAD=1`` (about 170 MB; no course
machine has the network access, and an opt-in keeps offline runs fast and quiet).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
from pathlib import Path

import numpy as np
from torchvision.datasets import CIFAR10

from autograder.course import data_dir

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
FILES = (*TRAIN_FILES, "test_batch", "batches.meta")

#: sha256 of the course's stand-in sample (also listed in data/SHA256SUMS).
SAMPLE_SHA256 = {
    "data_batch_1": "a95532226ec89596a43dcc93f280d3aad51c30de2fbedb76eb242ff95f6e45b0",
    "data_batch_2": "870be150385c75b4ae560b5cf750efeadb27bc52482e71f00cf8dfe7dc00429c",
    "data_batch_3": "c7f2cda7ba31cd72474b90d7169435c018a6650f7f7338e8af372bfc966eba9a",
    "data_batch_4": "c6226e2655e56c2280bf11dd5579b0076a0d4cb6c6f30a95a05c82dccb1f19d1",
    "data_batch_5": "e361692ec799f8f0cb7a40ae3d4ffeabf01ab87a949ede23c0094cfc10057f89",
    "test_batch": "bf453a50f03db17affd74659308ff049ee76c10318ed3379360223c1e1f8c693",
    "batches.meta": "2f71cf46baaf0d2680f65fdf51d46d762c27ad07947b22082fa19e928461ad45",
}

#: md5 of the real files, as torchvision lists them.
REAL_MD5 = {name: md5 for name, md5 in CIFAR10.train_list + CIFAR10.test_list}
REAL_MD5[CIFAR10.meta["filename"]] = CIFAR10.meta["md5"]


class ChecksumError(RuntimeError):
    """A CIFAR-10 file is neither a real CIFAR-10 file nor the course's sample."""


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sample_root() -> Path:
    """The folder that contains the sample's cifar-10-batches-py (the course's data/)."""
    return data_dir()


def real_root() -> Path:
    """Where the real CIFAR-10 is looked for and downloaded: $CNN_CIFAR_ROOT or a cache."""
    default = Path.home() / ".cache" / "cnn-foundations" / "cifar10"
    return Path(os.environ.get("CNN_CIFAR_ROOT", default))


def _not_found(path: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"{path} does not exist. The course ships a small stand-in sample in"
        f" {sample_root() / FOLDER} (recreate it with `python data/make_cifar_sample.py`)."
        f" For the real CIFAR-10 (about 170 MB) run with CNN_DOWNLOAD=1 on a machine with internet"
        f" access (it downloads into {real_root()}), or set CNN_CIFAR_ROOT to a folder that"
        f" contains {FOLDER}."
    )


#: The files this process has verified: by the name (it decides the expected checksum), and by
#: what a change to a file changes: its inode, size, modification time and status-change time
#: (which no program can set back).
_VERIFIED: dict[tuple, str] = {}


def check_file(path: str | Path) -> str:
    """'real' or 'sample' after checking the file's checksum; raise if it matches neither.

    A file this process has verified and that has not changed since is not read again: a
    notebook loads the same files a dozen times (about 30 ms of hashing per notebook on the
    sample, seconds on the real data set).
    """
    path = Path(path)
    if path.name not in SAMPLE_SHA256:
        raise ChecksumError(f"{path.name} is not a CIFAR-10 file (expected one of {FILES}).")
    if not path.is_file():
        raise _not_found(path)
    st = path.stat()
    key = (path.name, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = _verify(path)
    return _VERIFIED[key]


def _verify(path: Path) -> str:
    if _digest(path, "sha256") == SAMPLE_SHA256[path.name]:
        return "sample"
    md5 = _digest(path, "md5")
    if md5 == REAL_MD5[path.name]:
        return "real"
    raise ChecksumError(
        f"{path} is damaged or unknown: its md5 is {md5}, CIFAR-10's is {REAL_MD5[path.name]},"
        " and it is not the course's sample either. It was not unpickled. Delete the folder and"
        " download it again, or recreate the sample with `python data/make_cifar_sample.py`."
    )


def check_folder(root: str | Path) -> str:
    """Check the seven files of root/cifar-10-batches-py; return 'real' or 'sample'."""
    folder = Path(root) / FOLDER
    if not folder.is_dir():
        raise _not_found(folder)
    kinds = {check_file(folder / name) for name in FILES}
    if len(kinds) > 1:
        raise ChecksumError(f"{folder} mixes real CIFAR-10 files with the course's sample.")
    return kinds.pop()


def load_batch(path: str | Path, encoding: str = "bytes") -> dict:
    """Unpickle one CIFAR-10 file after checking its checksum.

    With the default ``encoding="bytes"`` the keys are bytes (``b"data"``, ``b"labels"``), as
    the files were written by Python 2; ``encoding="latin1"`` gives str keys, as in torchvision.
    """
    check_file(path)
    return _unpickle(path, encoding)


def _unpickle(path: str | Path, encoding: str = "bytes") -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding=encoding)


def load_split(root: str | Path, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of a split: uint8 (N, 32, 32, 3) and int64 (N,), checksums verified."""
    paths = [Path(root) / FOLDER / n for n in (TRAIN_FILES if train else ("test_batch",))]
    for path in paths:  # every file of the split is checked before any is unpickled
        check_file(path)
    batches = [_unpickle(path) for path in paths]
    data = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([np.asarray(b[b"labels"], dtype=np.int64) for b in batches])
    return np.ascontiguousarray(data.transpose(0, 2, 3, 1)), labels


def locate_cifar10(download: bool | None = None) -> tuple[Path, str]:
    """(root, 'real' or 'sample'): the real data if present (or downloaded), else the sample.

    The download is tried only when ``download`` is true or, by default, when the environment
    sets CNN_DOWNLOAD=1; it gives up after 10 s without an answer and falls back to the sample.
    """
    if download is None:
        download = os.environ.get("CNN_DOWNLOAD") == "1"
    root = real_root()
    if not (root / FOLDER).is_dir() and download:
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(10)
        try:
            CIFAR10(root, train=True, download=True)
        except Exception as error:  # no network, proxy, full disk...: use the sample
            print(f"CIFAR-10 download failed ({type(error).__name__}: {error}); using the sample.")
        finally:
            socket.setdefaulttimeout(previous)
    if (root / FOLDER).is_dir():
        return root, check_folder(root)
    return sample_root(), check_folder(sample_root())


class VerifiedCIFAR10(CIFAR10):
    """torchvision's CIFAR10 that also accepts the course's sample (checksums still verified)."""

    def _check_integrity(self) -> bool:
        check_folder(self.root)
        return True

    def _load_meta(self) -> None:
        meta = load_batch(Path(self.root) / FOLDER / "batches.meta", encoding="latin1")
        self.classes = meta["label_names"]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
