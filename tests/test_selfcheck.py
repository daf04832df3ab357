"""Does every chapter pass the self-check on real nbgrader, and does the self-check itself bite?"""

from __future__ import annotations

import nbformat
import pytest

from autograder import course, fixtures, selfcheck
from autograder.nbgrader_tools import CellResult


def cell(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source)


def test_does_the_leak_check_find_a_solution_line_in_the_release():
    source = nbformat.v4.new_notebook()
    source.cells = [
        cell(
            "def f(x):\n    ### BEGIN SOLUTION\n    return torch.flip(x, (0, 1))\n"
            "    ### END SOLUTION"
        )
    ]
    clean = nbformat.v4.new_notebook()
    clean.cells = [cell("def f(x):\n    raise NotImplementedError()")]
    leaky = nbformat.v4.new_notebook()
    leaky.cells = [cell("hint = 'return torch.flip(x, (0, 1))'")]
    assert selfcheck.leaked_lines(source, clean) == []
    assert selfcheck.leaked_lines(source, leaky) == ["return torch.flip(x, (0, 1))"]


def test_does_the_leak_check_find_hidden_tests():
    source = nbformat.v4.new_notebook()
    source.cells = [
        cell("### BEGIN HIDDEN TESTS\ncheck_equal(f(3), 4, 'f(3)')\n### END HIDDEN TESTS")
    ]
    leaky = nbformat.v4.new_notebook()
    leaky.cells = [cell("check_equal(f(3), 4, 'f(3)')")]
    assert selfcheck.leaked_lines(source, leaky)


def result(grade_id: str, score: float, errors: str = "") -> CellResult:
    return CellResult(grade_id, score, 1.0, errors)


def mutant(**kw) -> fixtures.Fixture:
    return fixtures.Fixture(name="m", cell="f", source="", **kw)


def test_is_a_mutant_with_full_marks_reported_as_not_caught():
    ok, detail = selfcheck._judge_mutant(mutant(fails=("test_f",)), {"test_f": result("test_f", 1)})
    assert not ok and "NOT CAUGHT" in detail


def test_must_a_mutant_fail_every_cell_it_names_and_show_its_message():
    fx = mutant(fails=("test_a", "test_b"), message="flipped kernel")
    results = {
        "test_a": result("test_a", 0, "CheckFailure: flipped kernel"),
        "test_b": result("test_b", 1),
    }
    ok, detail = selfcheck._judge_mutant(fx, results)
    assert not ok and "test_b passed" in detail
    results["test_b"] = result("test_b", 0, "CheckFailure: wrong shape")
    assert selfcheck._judge_mutant(fx, results)[0]
    fx = mutant(fails=("test_a",), message="transposed")
    ok, detail = selfcheck._judge_mutant(fx, results)
    assert not ok and "not shown" in detail


@pytest.mark.slow
@pytest.mark.parametrize("chapter", course.existing_chapters())
def test_does_the_chapter_pass_the_selfcheck(chapter, tmp_path):
    """(a) release generates, (b) solution full, (c) blank zero, (d) no leak, (e) mutants lose."""
    [report] = selfcheck.selfcheck([chapter], workdir=tmp_path)
    assert report.ok, "\n" + report.table()
