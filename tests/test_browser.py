"""Does a student's JupyterLab work: the chapter runs, and nbgrader's Validate button answers?

The end-to-end test starts a real ``jupyter lab`` on a student release and drives it in headless
Chromium (Debian's, through Playwright). Screenshots of every step and their timings go to
``student/`` under $CNN_ARTIFACTS (default ``artifacts/browser/``). Helpers: tests/browser/lab.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from browser import lab

from autograder import fixtures
from autograder import messages as M
from autograder.checks import CheckFailure

CHAPTER = "ch01_pixels"
#: the wrong answer typed in the browser: permute(2, 1, 0) swaps height and width
MUTANT = "chw_permute_210"
NBGRADER_SERVER_EXTENSIONS = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def listings(env: dict[str, str], **commands: list[str]) -> dict[str, str]:
    """Run several ``jupyter ... list`` commands at once (each imports the whole stack)."""
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, args in commands.items()
    }
    out = {}
    for name, proc in procs.items():
        text, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, text
        out[name] = ANSI.sub("", text)
    return out


def test_are_nbgraders_jupyterlab_extensions_installed_and_enabled_by_the_environment(tmp_path):
    """With no user configuration at all, are Validate, Formgrader and the course list on?"""
    from importlib.metadata import version

    found = listings(
        lab.isolated_jupyter_env(tmp_path),
        # what `jupyter labextension list` and `jupyter server extension list` run
        labext=["jupyterlab.labextensions", "list"],
        serverext=["jupyter_server.extension.serverextension", "list"],
    )
    labext, serverext = found["labext"], found["serverext"]
    assert re.search(
        rf"@jupyter/nbgrader v{re.escape(version('nbgrader'))} enabled\s+OK", labext
    ), labext
    assert sys.prefix in labext, "the lab extension should come from the environment"
    for name in ["jupyterlab", *NBGRADER_SERVER_EXTENSIONS]:
        assert re.search(rf"^\s*{re.escape(name)} enabled\s*$", serverext, re.M), (name, serverext)
        assert re.search(rf"^\s*{re.escape(name)} .*OK\s*$", serverext, re.M), (name, serverext)


def expected_failure(mutant: fixtures.Fixture, test_cell: str) -> str:
    """What the check library says about the mutant in this public test cell (run here)."""
    import torch

    namespace: dict = {"torch": torch}
    exec(mutant.source, namespace)
    with pytest.raises(CheckFailure) as failure:
        exec(test_cell, namespace)
    return str(failure.value)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = lab.find_chromium()
    if path is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: .ci/run
        pytest.skip(message)
    return path


@pytest.fixture
def shots(request) -> Path:
    folder = lab.artifacts_dir() / "student"
    for old in folder.glob("*.png"):
        old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(f"browser screenshots: {folder}")


@pytest.mark.slow
def test_does_a_student_run_a_chapter_and_validate_it_in_jupyterlab(chromium, shots, tmp_path):
    started = time.monotonic()
    student = lab.student_release(tmp_path, CHAPTER)
    (relpath,) = [p.relative_to(student).as_posix() for p in student.glob("*/*.ipynb")]
    release_path = student / relpath
    answers = lab.reference_answers(CHAPTER)
    solution_cells = {gid: lab.cell_index(release_path, gid) for gid in answers}
    mutant = next(fx for fx in fixtures.mutants(CHAPTER) if fx.name == MUTANT)
    release = nbformat.read(release_path, as_version=4)
    public_test = next(
        c.source
        for c in release.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == mutant.fails[0]
    )
    wanted_message = expected_failure(mutant, public_test)
    # the public test right after the first exercise is where a blank release first fails
    first_test_cell = next(
        i
        for i, c in enumerate(release.cells)
        if i > min(solution_cells.values()) and c.metadata.get("nbgrader", {}).get("grade")
    )

    with lab.jupyter_lab(student, tmp_path / "jupyter") as server, lab.chromium_page() as page:
        nb = lab.Notebook(page, server, relpath, shots)
        try:
            nb.open(cells=len(release.cells))
            assert nb.cells.count() == len(release.cells)
            nb.screenshot("01-opened")

            # An instructor's menu: Formgrader and the course list come with the environment.
            items = nb.menu_items("Nbgrader")
            assert any("Formgrader" in i for i in items) and any("Course" in i for i in items), (
                items
            )

            # Run All on the blank release stops at the first exercise, as a student sees it.
            nb.run_all()
            saved = nb.save()
            first_error = next(
                (i, o)
                for i, c in enumerate(saved.cells)
                for o in c.get("outputs", [])
                if o.output_type == "error"
            )
            first_exercise = min(solution_cells, key=solution_cells.get)
            assert first_error[0] == first_test_cell
            assert first_error[1].ename == "CheckFailure"
            assert first_error[1].evalue == M.NOT_IMPLEMENTED.format(name=first_exercise)
            nb.scroll_to(first_error[0])
            nb.screenshot("02-run-all-blank-release")

            # Answer every exercise with the reference solution, typed into the cells.
            for grade_id, index in solution_cells.items():
                nb.set_source(index, answers[grade_id])
            nb.run_all()
            saved = nb.save()
            for grade_id, index in solution_cells.items():
                assert saved.cells[index].source.strip() == answers[grade_id].strip(), grade_id
            errors = [
                f"cell {i}: {o.ename}: {o.evalue}"
                for i, c in enumerate(saved.cells)
                for o in c.get("outputs", [])
                if o.output_type == "error"
            ]
            assert errors == []
            images = sum(
                "image/png" in o.get("data", {}) for c in saved.cells for o in c.get("outputs", [])
            )
            assert images >= 2, f"only {images} figure(s) rendered in the browser session"
            nb.scroll_to(solution_cells["rgb_to_gray"] + 3)
            nb.screenshot("03-run-all-answered")

            kind, text = nb.validate()
            nb.screenshot("04-validate-success")
            assert kind == "validation-success", text
            assert "passes all the tests" in text
            nb.close_dialog()

            # One wrong answer: the dialog names the failing cell and the mistake.
            nb.set_source(solution_cells[mutant.cell], mutant.source)
            kind, text = nb.validate()
            nb.screenshot("05-validate-failure")
            assert kind == "validation-failed", text
            assert lab.normalise(wanted_message) in lab.normalise(text), (wanted_message, text)
            for fragment in mutant.message_fragments():
                assert lab.normalise(fragment) in lab.normalise(text)
            nb.close_dialog()
        except BaseException:
            nb.screenshot("failure")  # what the page showed when it went wrong
            raise
        finally:
            (shots / "timings.txt").write_text(nb.timings() + "\n")
    print(f"{nb.timings()}\nbrowser test: {time.monotonic() - started:.1f} s in all")
