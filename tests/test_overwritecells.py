"""Does PrefetchedOverwriteCells restore a tampered notebook as nbgrader's OverwriteCells does?"""

from __future__ import annotations

import copy
import logging

import pytest
from nbgrader.preprocessors import OverwriteCells
from sqlalchemy import event
from sqlalchemy.engine import Engine

from autograder.overwritecells import PrefetchedOverwriteCells


def tampered(nb, ghost: bool):
    """A student's edits that OverwriteCells undoes, a deleted task and, with ``ghost``, a cell
    the gradebook does not know (nbgrader's add_missing_cells fails on one: KeyError)."""
    nb = copy.deepcopy(nb)
    cells = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells}
    cells["test_fail"].source = "pass  # the test, deleted"
    cells["test_ok"].metadata.nbgrader["points"] = 10
    cells["intro"].metadata.nbgrader["locked"] = False
    cells["intro"].cell_type = "raw"
    nb.cells.remove(cells["task"])
    if ghost:
        unknown = copy.deepcopy(cells["test_ok"])
        unknown.metadata.nbgrader["grade_id"] = "ghost"
        nb.cells.append(unknown)
    return nb


def overwrite(cls, url: str, nb, add_missing_cells: bool = False):
    """The notebook ``cls`` returns, its warnings, and the SQL statements it ran."""
    resources = {"nbgrader": {"notebook": "nb", "assignment": "ps1", "db_url": url}}
    preprocessor = cls(add_missing_cells=add_missing_cells)
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    preprocessor.log.addHandler(handler)
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(Engine, "before_cursor_execute", listener)
    try:
        out, _ = preprocessor.preprocess(copy.deepcopy(nb), resources)
    finally:
        event.remove(Engine, "before_cursor_execute", listener)
        preprocessor.log.removeHandler(handler)
    return out, records, statements


@pytest.mark.parametrize("add_missing_cells", [False, True])
def test_is_the_notebook_restored_as_nbgrader_restores_it(submitted_gradebook, add_missing_cells):
    """Same cells, same metadata, same warnings; the tampering is undone, and with
    ``add_missing_cells`` the deleted task is back."""
    url, nb = submitted_gradebook
    bad = tampered(nb, ghost=not add_missing_cells)
    expected, expected_log, _ = overwrite(OverwriteCells, url, bad, add_missing_cells)
    out, log, _ = overwrite(PrefetchedOverwriteCells, url, bad, add_missing_cells)
    assert out == expected
    assert log == expected_log
    assert out.cells[3].source == nb.cells[3].source  # the deleted test is back
    assert out.cells[2].metadata.nbgrader["points"] == 2
    assert out.cells[0].metadata.nbgrader["locked"] is True
    assert out.cells[0].cell_type == "markdown"
    assert any("ghost" in line for line in log) != add_missing_cells
    tasks = [c for c in out.cells if c["metadata"]["nbgrader"].get("task")]
    assert len(tasks) == add_missing_cells


def test_does_a_notebook_cost_a_fixed_number_of_queries(submitted_gradebook):
    """nbgrader's runs one or two queries per nbgrader cell; the prefetched one three in all
    (source cells, grade cells, task cells), plus one per name it does not know."""
    url, nb = submitted_gradebook
    empty = copy.deepcopy(nb)
    empty.cells = []
    _, _, opening = overwrite(OverwriteCells, url, empty)
    _, _, nbgraders = overwrite(OverwriteCells, url, nb)
    _, _, prefetched = overwrite(PrefetchedOverwriteCells, url, nb)
    assert len(prefetched) == len(opening) + 3
    assert len(nbgraders) >= len(opening) + len(nb.cells)
