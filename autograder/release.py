"""Build the student versions with nbgrader and copy them where a self-learner looks."""

from __future__ import annotations

import shutil
from pathlib import Path

from autograder import course
from autograder.nbgrader_tools import run_nbgrader


def release(chapters: list[str], root: Path = course.ROOT) -> list[Path]:
    """Run ``nbgrader generate_assignment`` for each chapter in ``root`` and copy the result.

    Returns the student notebooks under ``exercises/``. The course's data stays in ``data/``,
    where the notebooks find it through ``autograder.course.data_dir()``.
    """
    written = []
    for chapter in chapters:
        run_nbgrader("generate_assignment", chapter, "--force", cwd=root)
        target = root / "exercises" / chapter
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(root / "release" / chapter, target)
        written.extend(sorted(target.glob("*.ipynb")))
    return written
