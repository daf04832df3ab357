"""Does a SubmissionGradebook find what nbgrader's Gradebook finds, in a few queries?"""

from __future__ import annotations

import contextlib

import pytest
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import event

from autograder.submissiongradebook import SubmissionGradebook

NAMES = ["intro", "answer", "test_ok", "test_fail", "essay", "task", "not_there"]
FINDERS = {
    "find_source_cell": ("nb", "ps1"),
    "find_graded_cell": ("nb", "ps1"),
    "find_grade": ("nb", "ps1", "alice"),
    "find_comment": ("nb", "ps1", "alice"),
}


def lookups(gb: Gradebook) -> dict[tuple[str, str], tuple]:
    """(finder, cell name) -> the row found (its class and id), or MissingEntry's message;
    and the number of SQL statements the lookups ran."""
    found = {}
    for finder, ids in FINDERS.items():
        for name in NAMES:
            try:
                row = getattr(gb, finder)(name, *ids)
                found[finder, name] = (type(row).__name__, row.id)
            except MissingEntry as error:
                found[finder, name] = ("MissingEntry", str(error))
    return found


@contextlib.contextmanager
def statements(gb: Gradebook):
    ran = []
    listener = lambda *args: ran.append(args[2])  # noqa: E731
    event.listen(gb.engine, "before_cursor_execute", listener)
    try:
        yield ran
    finally:
        event.remove(gb.engine, "before_cursor_execute", listener)


def test_does_every_lookup_find_what_nbgraders_finds(submitted_gradebook):
    """The same rows, the same kind preferred where two cells share a name (a grade cell's
    grade before a task cell's, a solution cell's comment before a task cell's), and the same
    MissingEntry for a name nbgrader does not know."""
    url, _ = submitted_gradebook
    with Gradebook(url) as gb:
        expected = lookups(gb)
    with SubmissionGradebook(url) as gb:
        assert lookups(gb) == expected
    assert expected["find_graded_cell", "test_ok"][0] == "GradeCell"
    assert expected["find_grade", "test_ok"] != expected["find_grade", "test_fail"]
    assert expected["find_comment", "answer"][0] == "Comment"
    assert expected["find_source_cell", "not_there"][0] == "MissingEntry"


@pytest.mark.parametrize("finder", sorted(FINDERS))
def test_does_a_notebooks_lookups_cost_a_fixed_number_of_queries(submitted_gradebook, finder):
    """nbgrader's finders run a query per cell; a SubmissionGradebook runs its reads for the
    whole notebook at the first lookup, then none for the other cells it read."""
    url, _ = submitted_gradebook
    known = ["answer", "test_ok", "test_fail", "essay", "task"]
    ids = FINDERS[finder]
    with SubmissionGradebook(url) as gb:
        present = []
        for name in known:
            with contextlib.suppress(MissingEntry):
                getattr(gb, finder)(name, *ids)
                present.append(name)
        with statements(gb) as ran:
            for name in present:
                getattr(gb, finder)(name, *ids)
        assert len(present) >= 2
        assert ran == []
    with Gradebook(url) as gb, statements(gb) as ran:
        for name in present:
            getattr(gb, finder)(name, *ids)
        assert len(ran) >= len(present)
