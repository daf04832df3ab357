"""Are the source notebooks well-formed nbgrader sources with enough answer fixtures?

(Running them on real nbgrader is tests/test_selfcheck.py's job.)
"""

from __future__ import annotations

import re

import nbformat
import pytest

from autograder import course, fixtures

CHAPTERS = course.existing_chapters()


def nb_of(chapter: str) -> nbformat.NotebookNode:
    return nbformat.read(course.source_notebook(chapter), as_version=4)


def graded(nb, kind: str) -> list:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get(kind)]


def test_are_all_six_chapters_declared_and_is_there_a_notebook_for_each():
    assert course.chapters() == [
        "ch01_pixels",
        "ch02_kernels",
        "ch03_edges",
        "ch04_learning_kernel",
        "ch05_pooling",
        "ch06_cifar10",
    ]
    assert "ch01_pixels" in CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_is_the_notebook_stored_without_outputs(chapter):
    nb = nb_of(chapter)
    nbformat.validate(nb)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert dirty == [], f"cells with outputs or execution counts: {dirty}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_is_the_nbgrader_metadata_consistent(chapter):
    nb = nb_of(chapter)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), "duplicate grade_id"
    for cell in graded(nb, "grade"):
        meta = cell.metadata["nbgrader"]
        assert meta["schema_version"] == 3 and meta["locked"] and meta["points"] > 0
        assert meta["grade_id"].startswith("test_"), meta["grade_id"]
        assert "print(" not in cell.source, "test cells print nothing"
    for cell in graded(nb, "solution"):
        assert cell.cell_type == "code" and not cell.metadata["nbgrader"]["grade"]
        assert cell.source.count("### BEGIN SOLUTION") == cell.source.count("### END SOLUTION") > 0


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_does_every_exercise_have_public_and_hidden_tests(chapter):
    nb = nb_of(chapter)
    tests = graded(nb, "grade")
    hidden = [c for c in tests if "### BEGIN HIDDEN TESTS" in c.source]
    public = [c for c in tests if "### BEGIN HIDDEN TESTS" not in c.source]
    assert hidden and public
    for cell in hidden:
        assert cell.source.count("### BEGIN HIDDEN TESTS") == cell.source.count(
            "### END HIDDEN TESTS"
        )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_does_every_exercise_have_three_mutants_and_an_alternative(chapter):
    nb = nb_of(chapter)
    solution_ids = {c.metadata["nbgrader"]["grade_id"] for c in graded(nb, "solution")}
    test_ids = {c.metadata["nbgrader"]["grade_id"] for c in graded(nb, "grade")}
    mutants, alternatives = fixtures.mutants(chapter), fixtures.alternatives(chapter)
    for fx in mutants + alternatives:
        assert fx.cell in solution_ids, f"{fx.path.name}: no solution cell {fx.cell!r}"
        assert set(fx.fails) <= test_ids, f"{fx.path.name}: unknown test cells {fx.fails}"
    for fx in mutants:
        assert fx.fails and fx.why, f"{fx.path.name}: say which cells fail and why"
    for grade_id in solution_ids:
        assert sum(fx.cell == grade_id for fx in mutants) >= 3, f"{grade_id}: fewer than 3 mutants"
        assert any(fx.cell == grade_id for fx in alternatives), f"{grade_id}: no alternative"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_does_the_notebook_find_data_through_the_course_package(chapter):
    text = "\n".join(c.source for c in nb_of(chapter).cells)
    assert not re.search(r"['\"]\.\./", text), "relative paths break in release/ and autograded/"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_does_the_notebook_run_cleanly_with_its_figures(chapter, tmp_path):
    """Every cell of the source (teaching cells too) runs without error and figures render.

    The self-check grades test cells only; a failing assertion in a teaching cell (a number the
    text states) would go unnoticed there.
    """
    import nbclient

    from autograder.nbgrader_tools import nbgrader_env

    nb = nb_of(chapter)
    client = nbclient.NotebookClient(
        nb, timeout=300, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}
    )
    with pytest.MonkeyPatch.context() as mp:
        for key, value in nbgrader_env().items():
            mp.setenv(key, value)
        mp.delenv("MPLBACKEND", raising=False)
        client.execute()
    errors = [
        f"cell {i}: {o.ename}: {o.evalue[:300]}"
        for i, c in enumerate(nb.cells)
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert errors == []
    images = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert images >= 2, f"only {images} figure(s) rendered"
