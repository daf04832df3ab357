"""The CIFAR-10 stand-in sample (data/cifar-10-batches-py) and autograder.cifar."""

from __future__ import annotations

import hashlib
import os
import pickle
import runpy
import shutil
import urllib.error
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torchvision.datasets.cifar

from autograder import cifar, course

SAMPLE = course.ROOT / "data" / cifar.FOLDER


def _generator() -> SimpleNamespace:
    """The generator script's functions (run_path writes no __pycache__ into data/)."""
    return SimpleNamespace(**runpy.run_path(str(course.ROOT / "data" / "make_cifar_sample.py")))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _raw(name: str, encoding: str = "bytes") -> dict:
    with open(SAMPLE / name, "rb") as f:
        return pickle.load(f, encoding=encoding)


def test_sample_matches_its_checksums_everywhere():
    listed = {}
    for line in (course.ROOT / "data" / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    assert "chelsea.png" in listed
    for name in cifar.FILES:
        digest = _sha256(SAMPLE / name)
        assert listed[f"{cifar.FOLDER}/{name}"] == cifar.SAMPLE_SHA256[name] == digest
    assert sorted(p.name for p in SAMPLE.iterdir()) == sorted(cifar.FILES)


def test_generator_is_deterministic(tmp_path):
    folder = _generator().write_sample(tmp_path)
    assert folder == tmp_path / cifar.FOLDER
    for name in cifar.FILES:
        assert _sha256(folder / name) == cifar.SAMPLE_SHA256[name], name


def test_sample_is_small():
    assert sum((SAMPLE / name).stat().st_size for name in cifar.FILES) < 5_000_000


@pytest.mark.parametrize("name", [*cifar.TRAIN_FILES, "test_batch"])
def test_batch_format(name):
    assert (SAMPLE / name).read_bytes()[:2] == b"\x80\x02"  # pickle protocol 2
    batch = _raw(name)
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    data, labels = batch[b"data"], batch[b"labels"]
    assert isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.shape == (200, 3072)
    assert isinstance(labels, list) and len(labels) == 200
    assert all(type(k) is int and 0 <= k < 10 for k in labels)
    assert isinstance(batch[b"batch_label"], bytes)
    assert batch[b"batch_label"].startswith(b"testing" if name == "test_batch" else b"training")
    assert len(batch[b"filenames"]) == 200
    assert all(isinstance(f, bytes) and f.endswith(b".png") for f in batch[b"filenames"])
    # Python 2 strings: str keys with encoding="latin1", as torchvision reads them
    assert set(_raw(name, "latin1")) == {"batch_label", "labels", "data", "filenames"}


def test_meta_format():
    meta = _raw("batches.meta")
    assert meta == {
        b"num_cases_per_batch": 200,
        b"label_names": [n.encode() for n in _generator().LABEL_NAMES],
        b"num_vis": 3072,
    }
    assert _raw("batches.meta", "latin1")["label_names"][0] == "airplane"


def test_test_batch_is_balanced_and_classes_differ():
    labels = np.array(_raw("test_batch")[b"labels"])
    assert np.bincount(labels, minlength=10).tolist() == [20] * 10
    images, labels = cifar.load_split(course.ROOT / "data", train=True)
    means = np.stack([images[labels == k].mean(axis=(0, 1, 2)) for k in range(10)])
    distances = np.linalg.norm(means[:, None] - means[None], axis=-1)
    assert distances[~np.eye(10, dtype=bool)].min() > 10  # every class has its own colours


def test_load_split_layout():
    images, labels = cifar.load_split(course.ROOT / "data", train=True)
    assert images.shape == (1000, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (1000,) and labels.dtype == np.int64
    row = _raw("data_batch_2")[b"data"][3]  # image 203: R, G, B planes, each row-major
    assert images[203, 0, 0].tolist() == [row[0], row[1024], row[2048]]
    assert images[203, 1, 5, 2] == row[2048 + 32 + 5]
    test_images, test_labels = cifar.load_split(course.ROOT / "data", train=False)
    assert test_images.shape == (200, 32, 32, 3) and test_labels.shape == (200,)


@pytest.mark.parametrize("train", [True, False])
def test_torchvision_reads_the_sample(monkeypatch, train):
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    plain = torchvision.datasets.CIFAR10(course.ROOT / "data", train=train)
    verified = cifar.VerifiedCIFAR10(course.ROOT / "data", train=train)
    images, labels = cifar.load_split(course.ROOT / "data", train=train)
    for ds in (plain, verified):
        assert ds.classes == _generator().LABEL_NAMES
        assert np.array_equal(ds.data, images) and ds.targets == labels.tolist()
        image, label = ds[7]
        assert np.array_equal(np.asarray(image), images[7]) and label == labels[7]


def test_plain_torchvision_rejects_the_sample():
    with pytest.raises(RuntimeError, match="corrupted"):
        torchvision.datasets.CIFAR10(course.ROOT / "data")


def _corrupted_copy(tmp_path: Path, name: str) -> Path:
    shutil.copytree(SAMPLE, tmp_path / cifar.FOLDER)
    path = tmp_path / cifar.FOLDER / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    return path


def test_corrupted_file_gives_a_checksum_error_without_unpickling(tmp_path, monkeypatch):
    path = _corrupted_copy(tmp_path, "data_batch_3")

    def no_unpickling(*args, **kwargs):
        raise AssertionError("unpickled a file with an unknown checksum")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    with pytest.raises(cifar.ChecksumError, match="damaged"):
        cifar.load_batch(path)
    with pytest.raises(cifar.ChecksumError, match="data_batch_3"):
        cifar.load_split(tmp_path)
    with pytest.raises(cifar.ChecksumError):
        cifar.VerifiedCIFAR10(tmp_path)


def test_is_a_file_hashed_once_until_it_changes(tmp_path, monkeypatch):
    shutil.copytree(SAMPLE, tmp_path / cifar.FOLDER)
    path = tmp_path / cifar.FOLDER / "test_batch"
    hashed = []
    digest = cifar._digest
    monkeypatch.setattr(cifar, "_digest", lambda p, a: hashed.append(Path(p).name) or digest(p, a))
    for _ in range(3):
        cifar.load_batch(path)
    cifar.VerifiedCIFAR10(tmp_path, train=False)
    assert hashed.count("test_batch") == 1 and hashed.count("data_batch_1") == 1
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))  # same inode and size; its times put back
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(cifar.ChecksumError, match="damaged"):
        cifar.load_batch(path)


def test_is_a_verified_file_checked_again_under_another_name(tmp_path):
    """The name decides the expected checksum: the same file under another name (a symbolic
    link, which leaves its times alone) is checked against that name's, not taken as verified."""
    shutil.copytree(SAMPLE, tmp_path / cifar.FOLDER)
    folder = tmp_path / cifar.FOLDER
    assert cifar.check_file(folder / "data_batch_1") == "sample"
    (folder / "data_batch_2").unlink()
    (folder / "data_batch_2").symlink_to(folder / "data_batch_1")
    with pytest.raises(cifar.ChecksumError, match="data_batch_2"):
        cifar.check_file(folder / "data_batch_2")


def test_unknown_file_name_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(cifar.ChecksumError, match="not a CIFAR-10 file"):
        cifar.load_batch(path)


def test_missing_folder_says_where_to_get_the_data(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"make_cifar_sample\.py") as info:
        cifar.check_folder(tmp_path)
    assert "CNN_DOWNLOAD=1" in str(info.value) and "CNN_CIFAR_ROOT" in str(info.value)
    with pytest.raises(FileNotFoundError):
        cifar.load_batch(tmp_path / "test_batch")


def test_locate_uses_the_sample_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_CIFAR_ROOT", str(tmp_path / "nothing"))
    monkeypatch.delenv("CNN_DOWNLOAD", raising=False)
    assert cifar.locate_cifar10() == (cifar.sample_root(), "sample")


def test_locate_falls_back_when_the_download_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNN_CIFAR_ROOT", str(tmp_path / "real"))
    monkeypatch.setenv("CNN_DOWNLOAD", "1")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", offline)
    assert cifar.locate_cifar10() == (cifar.sample_root(), "sample")
    assert "download failed" in capsys.readouterr().out


def test_locate_prefers_a_present_folder_and_verifies_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_CIFAR_ROOT", str(tmp_path))
    shutil.copytree(SAMPLE, tmp_path / cifar.FOLDER)
    assert cifar.locate_cifar10(download=False) == (tmp_path, "sample")
    _corrupted_copy(tmp_path / "other", "batches.meta")
    monkeypatch.setenv("CNN_CIFAR_ROOT", str(tmp_path / "other"))
    with pytest.raises(cifar.ChecksumError, match=r"batches\.meta"):
        cifar.locate_cifar10(download=False)
