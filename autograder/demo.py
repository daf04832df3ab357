"""The demo: release the course, autograde three example students, print the grade table.

The example students are built from the repository's own answers: ``alice`` submits the
reference solutions, ``bob`` the reference with the first two mutant fixtures of each chapter
(a partly wrong submission), ``carol`` the unmodified release (a blank submission).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import nbformat

from autograder import course, fixtures
from autograder.nbgrader_tools import make_course_dir, release_notebook, run_nbgrader, submit

DEMO_DIR = course.ROOT / ".demo"


def build_submissions(root: Path, chapter: str) -> None:
    source = nbformat.read(course.source_notebook(chapter), as_version=4)
    release = nbformat.read(release_notebook(root, chapter), as_version=4)
    solution = fixtures.solved(release, source)
    partly_wrong = solution
    for fx in fixtures.mutants(chapter)[:2]:
        partly_wrong = fixtures.apply(partly_wrong, fx)
    submit(root, chapter, "alice", solution)
    submit(root, chapter, "bob", partly_wrong)
    submit(root, chapter, "carol", release)


def grade_table(csv_path: Path) -> str:
    """Format nbgrader's export as a student x assignment table of score/max."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assignments = sorted({r["assignment"] for r in rows})
    students = sorted({r["student_id"] for r in rows})
    cell = {
        (r["student_id"], r["assignment"]): f"{float(r['score']):g}/{float(r['max_score']):g}"
        for r in rows
    }
    width = max([len(a) for a in assignments] + [9])
    lines = ["student   " + "".join(f"{a:>{width + 2}}" for a in assignments)]
    for s in students:
        lines.append(
            f"{s:<10}" + "".join(f"{cell.get((s, a), '-'):>{width + 2}}" for a in assignments)
        )
    return "\n".join(lines)


def demo(chapters: list[str], root: Path = DEMO_DIR) -> str:
    """Run the whole instructor workflow on example students; return the grade table."""
    if root.exists():
        shutil.rmtree(root)
    make_course_dir(root, chapters)
    for chapter in chapters:
        run_nbgrader("generate_assignment", chapter, "--force", cwd=root)
        build_submissions(root, chapter)
        run_nbgrader("autograde", chapter, "--force", cwd=root)
        run_nbgrader("generate_feedback", chapter, "--force", cwd=root)
    run_nbgrader("export", "--to", "grades.csv", cwd=root)
    return grade_table(root / "grades.csv")
