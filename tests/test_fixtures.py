"""Are answer fixtures parsed and applied to the right cell?"""

from __future__ import annotations

import nbformat
import pytest

from autograder import fixtures
from autograder import messages as M


def notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    sol = nbformat.v4.new_code_cell(
        "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION"
    )
    sol.metadata["nbgrader"] = {"grade_id": "f", "solution": True, "grade": False}
    test = nbformat.v4.new_code_cell("assert f(1) == 2")
    test.metadata["nbgrader"] = {"grade_id": "test_f", "solution": False, "grade": True}
    nb.cells = [sol, test]
    return nb


def write(tmp_path, text):
    path = tmp_path / "wrong.py"
    path.write_text(text)
    return path


def test_is_the_header_read_and_the_body_kept(tmp_path):
    fx = fixtures.parse(
        write(
            tmp_path,
            "# cell: f\n# why: off by one\n# fails: test_f, test_g\n"
            "# message: NOT_EQUAL\ndef f(x):\n    return x\n",
        )
    )
    assert (fx.name, fx.cell, fx.why, fx.fails) == (
        "wrong",
        "f",
        "off by one",
        ("test_f", "test_g"),
    )
    assert fx.source == "def f(x):\n    return x\n"
    assert fx.message_fragments() == ["; expected"]  # the template's fixed text
    assert all(part in M.NOT_EQUAL for part in fx.message_fragments())


def test_is_literal_message_text_accepted(tmp_path):
    fx = fixtures.parse(write(tmp_path, "# cell: f\n# message: did you flip it?\nx = 1\n"))
    assert fx.message_fragments() == ["did you flip it?"]


def test_is_a_fixture_without_a_cell_rejected(tmp_path):
    with pytest.raises(ValueError, match="cell"):
        fixtures.parse(write(tmp_path, "# why: nothing\nx = 1\n"))


def test_does_apply_replace_only_the_named_solution_cell(tmp_path):
    fx = fixtures.parse(write(tmp_path, "# cell: f\ndef f(x):\n    return x\n"))
    out = fixtures.apply(notebook(), fx)
    assert out.cells[0].source == "def f(x):\n    return x\n"
    assert out.cells[1].source == "assert f(1) == 2"


def test_is_applying_to_a_test_cell_or_a_missing_cell_an_error(tmp_path):
    with pytest.raises(ValueError, match="not a solution cell"):
        fixtures.apply(notebook(), fixtures.parse(write(tmp_path, "# cell: test_f\nx = 1\n")))
    with pytest.raises(ValueError, match="no cell"):
        fixtures.apply(notebook(), fixtures.parse(write(tmp_path, "# cell: g\nx = 1\n")))


def test_does_solved_fill_the_release_from_the_source_without_markers():
    source = notebook()
    release = notebook()
    release.cells[0].source = "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    solved = fixtures.solved(release, source)
    assert solved.cells[0].source == "def f(x):\n    return x + 1"
