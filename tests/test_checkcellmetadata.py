"""Does the cached CheckCellMetadata accept and reject exactly what nbgrader's does?"""

from __future__ import annotations

import copy

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.preprocessors import CheckCellMetadata

from autograder import course
from autograder.checkcellmetadata import CachedCheckCellMetadata, CachedMetadataValidator


def chapter_notebooks() -> list:
    return sorted(course.ROOT.glob("notebooks/ch*/*.ipynb"))


def graded_cell(nb):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))


def corrupt(nb, how: str):
    """One way nbgrader metadata goes wrong in a submission (a student edits it by hand)."""
    nb = copy.deepcopy(nb)
    meta = graded_cell(nb).metadata.nbgrader
    if how == "points as text":
        meta["points"] = "two"
    elif how == "grade_id removed":
        del meta["grade_id"]
    elif how == "grade as text":
        meta["grade"] = "yes"
    elif how == "old schema":
        meta["schema_version"] = 1
    elif how == "new schema":
        meta["schema_version"] = 99
    elif how == "duplicate grade_id":
        others = [
            c for c in nb.cells if "nbgrader" in c.metadata and c.metadata.nbgrader is not meta
        ]
        others[0].metadata.nbgrader["grade_id"] = meta["grade_id"]
    elif how == "negative points":
        meta["points"] = -1
    return nb


HOW = [
    "points as text",
    "grade_id removed",
    "grade as text",
    "old schema",
    "new schema",
    "duplicate grade_id",
    "negative points",
]


def outcome(validator, nb) -> tuple[str, str]:
    try:
        validator.validate_nb(nb)
    except Exception as error:
        return type(error).__name__, str(error)
    return "valid", ""


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.parent.name)
def test_every_chapter_is_valid_for_both(path):
    """Does every chapter notebook pass both validators?"""
    nb = nbformat.read(path, as_version=4)
    assert (
        outcome(MetadataValidator(), nb) == outcome(CachedMetadataValidator(), nb) == ("valid", "")
    )


@pytest.mark.parametrize("how", HOW)
def test_corrupted_metadata_fails_the_same_way(how):
    """Is each corruption rejected with nbgrader's exact error type and text?"""
    nb = corrupt(nbformat.read(chapter_notebooks()[0], as_version=4), how)
    expected = outcome(MetadataValidator(), nb)
    assert expected[0] != "valid", how
    assert outcome(CachedMetadataValidator(), nb) == expected


def test_preprocessor_raises_nbgrader_message(caplog):
    """Does the preprocessor log the traceback and raise nbgrader's own message?"""
    nb = corrupt(nbformat.read(chapter_notebooks()[0], as_version=4), "points as text")
    messages = []
    for cls in (CheckCellMetadata, CachedCheckCellMetadata):
        with pytest.raises(ValidationError) as raised:
            cls().preprocess(nb, {})
        messages.append(str(raised.value))
    assert (
        messages[0]
        == messages[1]
        == ("Notebook failed to validate; the nbgrader metadata may be corrupted.")
    )
