"""Is every committed data file listed in data/SHA256SUMS, with the right checksum?"""

from __future__ import annotations

import hashlib

from autograder import course

NOT_DATA = {"README.md", "SHA256SUMS"}


def listed() -> dict[str, str]:
    sums = {}
    for line in (course.data_dir() / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.lstrip("*")] = digest
    return sums


def test_do_the_checksums_match():
    for name, digest in listed().items():
        data = (course.data_dir() / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name


def test_is_every_data_file_listed():
    files = {
        str(p.relative_to(course.data_dir()))
        for p in course.data_dir().rglob("*")
        if p.is_file()
        and p.name not in NOT_DATA
        and p.suffix != ".py"
        and "__pycache__" not in p.parts
    }
    assert sorted(files - listed().keys()) == []


def test_does_data_file_say_where_it_looked(tmp_path, monkeypatch):
    import pytest

    monkeypatch.setenv("CNN_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="CNN_DATA_DIR"):
        course.data_file("chelsea.png")
