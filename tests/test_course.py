"""Does the course module find the chapters, notebooks and data?"""

from __future__ import annotations

from autograder import course


def test_are_chapters_read_from_the_nbgrader_config():
    assert course.chapters()[0] == "ch01_pixels" and len(course.chapters()) == 6


def test_is_a_missing_chapter_notebook_none():
    assert course.source_notebook("ch99_nothing") is None
    assert course.source_notebook("ch01_pixels").name == "pixels.ipynb"


def test_is_the_data_dir_the_repository_data_by_default(monkeypatch):
    monkeypatch.delenv("CNN_DATA_DIR", raising=False)
    assert course.data_file("chelsea.png") == course.ROOT / "data" / "chelsea.png"
