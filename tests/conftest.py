"""Shared fixtures: a throwaway course directory per test."""

from __future__ import annotations

import copy
import shutil
import warnings
from pathlib import Path

import nbformat
import pytest

from autograder import course


@pytest.fixture
def course_root(tmp_path: Path) -> Path:
    """An empty nbgrader course directory with the project's config."""
    (tmp_path / "nbgrader_config.py").write_text(course.NBGRADER_CONFIG.read_text())
    return tmp_path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite the golden files under tests/golden/ from the current code",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(scope="session")
def _submitted_gradebook(tmp_path_factory: pytest.TempPathFactory):
    """A gradebook holding one submission of a one-notebook assignment ("ps1"/"nb", student
    "alice") and the submitted notebook, ungraded: ``(db_url, notebook)``.

    Its cells are of every kind nbgrader records: a locked markdown cell, a solution, two
    tests (one whose output is an error), a manually graded answer and a task. Two names are
    shared by cells of two kinds, which nbgrader allows (its cells are unique by name and
    type): "test_ok" is also a task cell and "answer" a task cell too, so a lookup must prefer
    the kind nbgrader prefers.
    """
    from nbgrader import utils
    from nbgrader.api import Gradebook

    def cell(kind: str, grade_id: str, source: str, **meta):
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        new = make(source)
        new.metadata.nbgrader = {
            "grade_id": grade_id,
            "grade": False,
            "solution": False,
            "locked": False,
            "schema_version": 3,
            **meta,
        }
        new.metadata.nbgrader["checksum"] = utils.compute_checksum(new)
        return new

    error = nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        cell("markdown", "intro", "# Problem set 1", locked=True),
        cell("code", "answer", "def f(x):\n    raise NotImplementedError()", solution=True),
        cell("code", "test_ok", "assert f(1) == 1", grade=True, locked=True, points=2),
        cell("code", "test_fail", "assert f(2) == 2", grade=True, locked=True, points=1),
        cell("markdown", "essay", "YOUR ANSWER HERE", grade=True, solution=True, points=3),
        cell("markdown", "task", "Describe f.", task=True, locked=True, points=2),
    ]
    nb.cells[3].outputs = [error]
    url = f"sqlite:///{tmp_path_factory.mktemp('submitted') / 'gradebook.db'}"
    with Gradebook(url) as gb:  # ~5 s: a new gradebook is stamped by alembic
        gb.add_assignment("ps1")
        gb.add_notebook("nb", "ps1")
        for c in nb.cells:
            meta = c.metadata.nbgrader
            name, kind = meta["grade_id"], c.cell_type
            gb.add_source_cell(
                name, "nb", "ps1", cell_type=kind, locked=meta["locked"],
                source=c.source, checksum=meta["checksum"],
            )  # fmt: skip
            if meta["grade"]:
                gb.add_grade_cell(name, "nb", "ps1", max_score=meta["points"], cell_type=kind)
            if meta["solution"]:
                gb.add_solution_cell(name, "nb", "ps1")
            if meta.get("task"):
                gb.add_task_cell(name, "nb", "ps1", max_score=meta["points"], cell_type=kind)
        gb.add_task_cell("test_ok", "nb", "ps1", max_score=5, cell_type="markdown")
        gb.add_task_cell("answer", "nb", "ps1", max_score=4, cell_type="markdown")
        gb.add_student("alice")
        with warnings.catch_warnings():  # nbgrader's, under SQLAlchemy 2: see grade.py
            warnings.filterwarnings("ignore", message=r"Object of type <\w+> not in session")
            gb.add_submission("ps1", "alice")
    return url, nb


@pytest.fixture
def submitted_gradebook(_submitted_gradebook, tmp_path: Path):
    """A copy of :func:`_submitted_gradebook`'s, for one test: ``(db_url, notebook)``."""
    url, nb = _submitted_gradebook
    path = tmp_path / "gradebook.db"
    shutil.copy2(url.removeprefix("sqlite:///"), path)
    return f"sqlite:///{path}", copy.deepcopy(nb)
