"""Does BatchedSaveAutoGrades save what nbgrader's SaveAutoGrades saves, in one commit?"""

from __future__ import annotations

import shutil

import pytest
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import SaveAutoGrades
from sqlalchemy import event
from sqlalchemy.engine import Engine

from autograder.saveautogrades import BatchedSaveAutoGrades


def save(cls, url: str, nb) -> None:
    resources = {"nbgrader": {"notebook": "nb", "assignment": "ps1", "student": "alice"}}
    resources["nbgrader"]["db_url"] = url
    cls().preprocess(nb, resources)


def saved(url: str) -> dict[tuple, tuple]:
    """Every grade and comment of alice's notebook: (kind, cell, cell type) -> fields."""
    with Gradebook(url) as gb:
        notebook = gb.find_submission_notebook("nb", "ps1", "alice")
        grades = {
            ("grade", g.cell.name, g.cell.type): (g.auto_score, g.needs_manual_grade)
            for g in notebook.grades
        }
        comments = {
            ("comment", c.cell.name, c.cell.type): (c.auto_comment,) for c in notebook.comments
        }
    return grades | comments


def second_copy(url: str) -> str:
    path = url.removeprefix("sqlite:///")
    shutil.copy2(path, path + ".nbgrader")
    return url + ".nbgrader"


class Commits:
    """The commits of every SQLAlchemy connection within the block."""

    def __enter__(self):
        self.count = 0
        event.listen(Engine, "commit", self._count)
        return self

    def _count(self, *args) -> None:
        self.count += 1

    def __exit__(self, *exc) -> None:
        event.remove(Engine, "commit", self._count)


def test_are_the_grades_and_comments_nbgraders(submitted_gradebook):
    """Same scores, review flags and comments, for cells of every kind."""
    url, nb = submitted_gradebook
    plain = second_copy(url)
    before = saved(url)
    save(SaveAutoGrades, plain, nb)
    save(BatchedSaveAutoGrades, url, nb)
    assert saved(url) == saved(plain) != before
    assert saved(url)["grade", "test_ok", "GradeCell"] == (2.0, False)
    assert saved(url)["grade", "test_fail", "GradeCell"] == (0.0, False)
    assert saved(url)["comment", "essay", "SolutionCell"] == ("No response.",)


def test_is_a_notebook_saved_in_one_commit(submitted_gradebook):
    """nbgrader commits once per graded or solution cell; the batched one once in all, beside
    the commit every Gradebook makes when it opens (its course check)."""
    url, nb = submitted_gradebook
    plain = second_copy(url)
    with Commits() as opening:
        Gradebook(url).close()
    with Commits() as nbgraders:
        save(SaveAutoGrades, plain, nb)
    with Commits() as batched:
        save(BatchedSaveAutoGrades, url, nb)
    assert batched.count == opening.count + 1
    assert nbgraders.count >= opening.count + len(nb.cells) - 1


def test_does_a_notebook_that_fails_midway_leave_no_grade_saved(submitted_gradebook):
    """A graded cell the gradebook does not know stops SaveAutoGrades with MissingEntry, as
    nbgrader's does; nbgrader's has committed the grades before it, the batched one none."""
    url, nb = submitted_gradebook
    plain = second_copy(url)
    ghost = nb.cells[2].copy()
    ghost.metadata = {"nbgrader": {**nb.cells[2].metadata.nbgrader, "grade_id": "ghost"}}
    nb.cells.insert(3, ghost)
    for cls, db in ((SaveAutoGrades, plain), (BatchedSaveAutoGrades, url)):
        with pytest.raises(MissingEntry):
            save(cls, db, nb)
    assert saved(plain)["grade", "test_ok", "GradeCell"] == (2.0, False)
    assert saved(url)["grade", "test_ok", "GradeCell"] == (None, True)
