"""Does `release` produce student versions without solutions where a self-learner finds them?"""

from __future__ import annotations

import nbformat
import pytest

from autograder.nbgrader_tools import make_course_dir
from autograder.release import release


@pytest.mark.slow
def test_does_release_write_exercises_without_solutions(tmp_path):
    root = make_course_dir(tmp_path / "course", ["ch01_pixels"])
    [written] = release(["ch01_pixels"], root=root)
    assert written == root / "exercises" / "ch01_pixels" / "pixels.ipynb"
    nb = nbformat.read(written, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "raise NotImplementedError()" in text
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert (root / "gradebook.db").exists()
