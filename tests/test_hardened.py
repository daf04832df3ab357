"""Does the hardened grader judge in its own kernel, from the course source?

A tiny assignment (tests/fixtures/course) keeps each notebook fast. The attacks here rewrite the
student's interpreter (assert-stripping compile, an answer that equals anything, a patched
AssertionError) or the notebook's test cells. Unhardened, the first two gain points (the
control); the other two do not even there. Hardened, none does.
The full adversarial suite against a course chapter is tests/test_attacks.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from test_grade import cell_errors, cell_scores, make_course, submit

from autograder import messages as M
from autograder.grade import Options, grade
from autograder.hardened import STARTS_PER_NOTEBOOK, HardenedExecute

WRONG_ADD = "def add(a, b):\n    return 0\n"
STRIP_ASSERTS = (
    "import builtins\n"
    "_compile = builtins.compile\n"
    "def _no_asserts(source, filename, mode, flags=0, dont_inherit=False, optimize=-1, **kw):\n"
    "    return _compile(source, filename, mode, flags, dont_inherit, 2)\n"
    "builtins.compile = _no_asserts\n"
)
PATCH_ASSERTION = "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n"
# An answer that equals anything: every `==` in a test cell run by the student's kernel holds.
ALWAYS_EQUAL = (
    "class _Same:\n"
    "    def __eq__(self, other):\n"
    "        return True\n"
    "def add(a, b):\n"
    "    return _Same()\n"
)

# An add that never returns (defined after the wrong one, so it is the one called).
LOOPS = "def add(a, b):\n    while True:\n        pass\n"


def attack(root: Path, student: str, payload: str) -> None:
    """A wrong `add` with an attack appended to its cell."""
    submit(root, student, "solved")
    path = root / "submitted" / student / "tiny" / "tiny.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "add":
            cell.source = WRONG_ADD + payload
        if meta.get("grade_id") == "test_add" and student == "edits_test":
            cell.source = "pass"
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One course, graded twice: plain nbgrader pipeline (unhardened) and hardened."""
    runs = {}
    for hardened in (False, True):
        root = make_course(tmp_path_factory.mktemp("hardened") / "course")
        submit(root, "honest", "solved")
        attack(root, "wrong", "")
        attack(root, "strips_asserts", STRIP_ASSERTS)
        attack(root, "patches_assertion", PATCH_ASSERTION)
        attack(root, "always_equal", ALWAYS_EQUAL)
        attack(root, "edits_test", "")
        results = grade(root, "tiny", Options(workers=1, hardened=hardened), progress=False)
        assert all(r.success for r in results), [r.error[-300:] for r in results]
        runs[hardened] = (root, cell_scores(root))
    return runs


def add_points(scores: dict, student: str) -> float:
    return scores[(student, "test_add")] + scores[(student, "test_add_hidden")]


def test_the_attacks_gain_points_without_hardening(graded):
    _, scores = graded[False]
    assert add_points(scores, "wrong") == 0
    for student in ("strips_asserts", "always_equal"):
        assert add_points(scores, student) > 0, student
    # `assert` raises the interpreter's own AssertionError, whatever builtins says; nbgrader
    # restores edited test cells from its database: neither gains, even unhardened
    assert add_points(scores, "patches_assertion") == 0
    assert add_points(scores, "edits_test") == 0


def test_hardened_verdicts_ignore_the_students_interpreter_and_test_cells(graded):
    _, scores = graded[True]
    assert add_points(scores, "honest") == 3
    for student in ("wrong", "strips_asserts", "patches_assertion", "always_equal", "edits_test"):
        assert add_points(scores, student) == 0, student
    # the other exercise is judged as usual: the attack did not cost the honest part
    assert scores[("strips_asserts", "test_square")] == 1


def test_honest_students_score_the_same_either_way(graded):
    plain, hardened = graded[False][1], graded[True][1]
    honest = {k: v for k, v in plain.items() if k[0] == "honest"}
    assert honest == {k: v for k, v in hardened.items() if k[0] == "honest"}
    assert sum(honest.values()) == 5


def test_does_a_student_function_that_never_returns_cost_only_the_tests_that_call_it(tmp_path):
    """As plain nbgrader interrupts a test cell that runs out of time and goes on, the
    hardened grader interrupts the student's kernel serving it and judges the next tests."""
    runs = {}
    for hardened in (False, True):
        root = make_course(tmp_path / f"hardened-{hardened}")
        attack(root, "loops", LOOPS)
        options = Options(workers=1, hardened=hardened, cell_timeout=3)
        results = grade(root, "tiny", options, progress=False)
        assert all(r.success for r in results), [r.error[-300:] for r in results]
        runs[hardened] = cell_scores(root)
    assert runs[True] == runs[False]
    assert add_points(runs[True], "loops") == 0
    assert runs[True][("loops", "test_square")] == 1
    assert runs[True][("loops", "test_square_hidden")] == 1


def test_does_a_new_trusted_kernel_run_the_teaching_cells_the_dead_one_had_run(tmp_path):
    """The trusted kernel dies in a test: the next test gets a new one, which binds the bridge
    afresh and runs the teaching cells the tests need (here the import) before it."""
    once = tmp_path / "died-once"

    def edit(nb):
        nb.cells.insert(1, nbformat.v4.new_code_cell("import math"))
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id == "test_add":
                cell.source = (
                    f"import os, pathlib\nonce = pathlib.Path({str(once)!r})\n"
                    "if not once.exists():\n    once.touch()\n    os._exit(1)\n"
                    "assert add(1, 2) == 3"
                )
            if grade_id == "test_add_hidden":
                cell.source = "assert math.isclose(add(2.5, 0.5), 3.0)"

    root = make_course(tmp_path / "course", edit)
    submit(root, "honest", "solved")
    results = grade(root, "tiny", Options(workers=1), progress=False)
    assert all(r.success for r in results), [r.error[-300:] for r in results]
    assert once.exists()  # the first trusted kernel died in test_add
    scores = cell_scores(root)
    assert scores[("honest", "test_add")] == 0
    assert M.HARDENED_TRUSTED_FAILED in cell_errors(root, "honest")
    assert scores[("honest", "test_add_hidden")] > 0
    assert scores[("honest", "test_square")] == 1


def test_does_a_trusted_kernel_that_cannot_start_fail_its_tests_with_the_reason(tmp_path):
    root = make_course(tmp_path / "course")
    with open(root / "nbgrader_config.py", "a") as config:
        config.write("\nc.HardenedExecute.trusted_kernel_name = 'no-such-kernel'\n")
    submit(root, "honest", "solved")
    results = grade(root, "tiny", Options(workers=1, sandbox=False), progress=False)
    assert all(r.success for r in results), [r.error[-300:] for r in results]
    assert set(cell_scores(root).values()) == {0}
    errors = cell_errors(root, "honest")
    assert errors.count(M.HARDENED_TRUSTED_NOT_STARTED.split("(")[0]) == 4, errors
    assert "NoSuchKernel" in errors


def test_does_a_notebook_stop_trying_to_start_a_trusted_kernel_that_hangs(tmp_path, monkeypatch):
    """A trusted kernel whose start hangs costs ``startup_timeout`` per try: a notebook tries
    STARTS_PER_NOTEBOOK starts in all (two per test), not two for every one of its tests."""
    starts = tmp_path / "starts.log"
    spec = tmp_path / "jupyter" / "kernels" / "hangs"
    spec.mkdir(parents=True)
    hang = "import sys, time; open(sys.argv[1], 'a').write('start\\n'); time.sleep(600)"
    argv = [sys.executable, "-c", hang, str(starts), "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "hangs"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    root = make_course(tmp_path / "course")
    with open(root / "nbgrader_config.py", "a") as config:
        config.write("\nc.HardenedExecute.trusted_kernel_name = 'hangs'\n")
        config.write("c.HardenedExecute.startup_timeout = 4\n")
    submit(root, "honest", "solved")
    results = grade(root, "tiny", Options(workers=1, sandbox=False), progress=False)
    assert all(r.success for r in results), [r.error[-300:] for r in results]
    assert starts.read_text().count("start") == STARTS_PER_NOTEBOOK < 2 * 4  # 4 test cells
    assert set(cell_scores(root).values()) == {0}
    errors = cell_errors(root, "honest")
    assert errors.count(M.HARDENED_TRUSTED_NOT_STARTED.split("(")[0]) == 4, errors


def test_does_a_notebook_that_has_used_its_starts_say_so_without_trying():
    """Trusted kernels that started and died STARTS_PER_NOTEBOOK times: no further start, and
    the test says why rather than showing an empty reason."""
    execute = HardenedExecute()
    execute._starts_left, execute._not_started = 0, ""
    execute._start_trusted = lambda: pytest.fail("a start was tried")
    why = execute._start_trusted_kernel()
    assert why == M.HARDENED_TRUSTED_NO_MORE_STARTS.format(count=STARTS_PER_NOTEBOOK)


def test_does_unhardened_warn_loudly(capsys, tmp_path):
    from autograder import course
    from autograder import messages as M
    from autograder.cli import main

    (tmp_path / "nbgrader_config.py").write_text(course.NBGRADER_CONFIG.read_text())
    assert main(["grade", "tiny", "--root", str(tmp_path), "--unhardened"]) == 2
    assert M.HARDENED_OFF in capsys.readouterr().err


def test_is_the_teaching_cell_selection_worked_out_afresh_when_the_source_changes():
    """The selection is cached per content of the cells, not per file name and time stamp."""
    from autograder.hardened import needed_teaching

    def plan(test_source: str) -> list:
        test = nbformat.v4.new_code_cell(test_source)
        test.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 1}
        return [nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_code_cell("b = 2"), test]

    assert needed_teaching(plan("assert a == 1")) == {0}
    assert needed_teaching(plan("assert b == 2")) == {1}
    assert needed_teaching(plan("assert a == 1")) == {0}


def test_is_the_source_notebook_parsed_once_per_content_and_read_afresh_when_edited(tmp_path):
    from autograder.hardened import source_plan

    path = tmp_path / "ch.ipynb"
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# x"), nbformat.v4.new_code_cell("a = 1")]
    )
    nbformat.write(nb, path)
    first = source_plan(path)
    assert [c.source for c in first] == ["a = 1"]  # code cells only
    assert source_plan(path) is first  # not parsed again
    nb.cells.append(nbformat.v4.new_code_cell("b = 2"))
    nbformat.write(nb, path)
    assert [c.source for c in source_plan(path)] == ["a = 1", "b = 2"]
