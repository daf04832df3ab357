"""Answer fixtures: wrong answers (mutants) and correct answers in other styles (alternatives).

A fixture is a Python file under ``tests/fixtures/{mutants,alternatives}/<chapter>/`` that
replaces one solution cell of a chapter. A header of ``# key: value`` lines comes first::

    # cell: to_chw                      grade_id of the solution cell it replaces
    # why: reshape instead of permute   what the mistake is (for the report)
    # fails: test_layout_hidden         test cells that must lose points (comma-separated)
    # message: CH01_RESHAPE_NOT_PERMUTE  a messages.py name, or literal text, the cell must show

Everything after the header is the new cell source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import course
from autograder import messages as M

HEADER = re.compile(r"^#\s*(\w+)\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class Fixture:
    """One replacement answer for one solution cell."""

    name: str
    cell: str
    source: str
    why: str = ""
    fails: tuple[str, ...] = ()
    message: str = ""
    path: Path = field(default=Path(), compare=False)

    def message_fragments(self) -> list[str]:
        """Literal pieces the failing cell's output must contain (a template's fixed text)."""
        if not self.message:
            return []
        text = (
            getattr(M, self.message, self.message)
            if self.message.isidentifier()
            else (self.message)
        )
        return [part.strip() for part in re.split(r"\{[^}]*\}", text) if len(part.strip()) > 3]


def parse(path: Path) -> Fixture:
    """Read a fixture file; raise ValueError naming what is missing."""
    meta: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    body_start = 0
    for i, line in enumerate(lines):
        match = HEADER.match(line)
        if not match:
            body_start = i
            break
        meta[match.group(1)] = match.group(2)
    else:
        body_start = len(lines)
    if "cell" not in meta:
        raise ValueError(f"{path}: the header has no '# cell: <grade_id>' line")
    fails = tuple(x.strip() for x in meta.get("fails", "").split(",") if x.strip())
    return Fixture(
        name=path.stem,
        cell=meta["cell"],
        source="\n".join(lines[body_start:]).strip("\n") + "\n",
        why=meta.get("why", ""),
        fails=fails,
        message=meta.get("message", ""),
        path=path,
    )


def load(kind_dir: Path, chapter: str) -> list[Fixture]:
    """All fixtures of one kind (mutants or alternatives) for a chapter, sorted by name."""
    return [parse(p) for p in sorted((kind_dir / chapter).glob("*.py"))]


def mutants(chapter: str) -> list[Fixture]:
    return load(course.MUTANTS, chapter)


def alternatives(chapter: str) -> list[Fixture]:
    return load(course.ALTERNATIVES, chapter)


SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def solved(release: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The release with every solution cell answered as in the source (markers removed)."""
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            kept = [ln for ln in answers[grade_id].splitlines() if not SOLUTION_MARKERS.match(ln)]
            cell.source = "\n".join(kept)
    return nb


def apply(nb: nbformat.NotebookNode, fixture: Fixture) -> nbformat.NotebookNode:
    """A copy of ``nb`` with the fixture's cell replaced; ValueError if there is no such cell."""
    out = nbformat.from_dict(nb)
    for cell in out.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == fixture.cell:
            if not cell.metadata["nbgrader"].get("solution"):
                raise ValueError(f"{fixture.path}: cell {fixture.cell!r} is not a solution cell")
            cell.source = fixture.source
            return out
    raise ValueError(f"{fixture.path}: the notebook has no cell with grade_id {fixture.cell!r}")
