"""Prove a chapter is gradable, on the real nbgrader, in a throwaway course directory.

For each chapter: (a) the release generates; (b) the reference solution, submitted as a
student, scores full marks; (c) the unmodified release scores zero without crashing the grader;
(d) no solution or hidden-test text appears in the release; (e) every mutant fixture loses
points on the test cells it targets, with the message it names; and every alternative
(a correct answer in another style) scores full marks.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import course, fixtures
from autograder.nbgrader_tools import (
    autograde_in_parallel,
    grades,
    make_course_dir,
    release_notebook,
    run_nbgrader,
    submit,
)

SOLUTION = "reference-solution"
FAILED_STUDENT = re.compile(r"error processing assignment '[^']*' for student '([^']+)'")
BLANK = "blank-release"


@dataclass
class Row:
    check: str
    ok: bool
    detail: str = ""


@dataclass
class ChapterReport:
    chapter: str
    rows: list[Row] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r.ok for r in self.rows)

    def add(self, check: str, ok: bool, detail: str = "") -> None:
        self.rows.append(Row(check, ok, detail))

    def table(self) -> str:
        width = max(len(r.check) for r in self.rows) if self.rows else 10
        lines = [f"== {self.chapter}: {'PASS' if self.ok else 'FAIL'}"]
        for r in self.rows:
            lines.append(f"  {'ok  ' if r.ok else 'FAIL'}  {r.check:<{width}}  {r.detail}")
        return "\n".join(lines)


def _hidden_regions(source: nbformat.NotebookNode) -> list[str]:
    """Every non-trivial line inside solution or hidden-test regions of the source."""
    region = re.compile(
        r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END (SOLUTION|HIDDEN TESTS)", re.S
    )
    lines: list[str] = []
    for cell in source.cells:
        for match in region.finditer(cell.source + "\n"):
            for line in match.group(2).splitlines():
                text = line.strip()
                # Skip lines too generic to prove a leak (imports, brackets, short fragments).
                if len(text) >= 12 and not text.startswith(("from ", "import ", "#")):
                    lines.append(text)
    return lines


def leaked_lines(source: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Lines of solutions or hidden tests that appear verbatim in the release."""
    release_text = "\n".join(c.source for c in release.cells)
    visible = "\n".join(
        c.source
        for c in source.cells
        if "### BEGIN" not in c.source  # text the source shows students on purpose
    )
    return [
        line for line in _hidden_regions(source) if line in release_text and line not in visible
    ]


def _total(results: dict) -> tuple[float, float]:
    return (
        sum(r.score for r in results.values()),
        sum(r.max_score for r in results.values()),
    )


def _student_id(kind: str, name: str) -> str:
    return f"{kind}-{re.sub(r'[^A-Za-z0-9]+', '-', name)}"


def check_chapter(chapter: str, workdir: Path, jobs: int = 1, plain: bool = False) -> ChapterReport:
    """Run (a)-(e) for one chapter in ``workdir`` (a fresh course directory)."""
    report = ChapterReport(chapter)
    src_path = course.source_notebook(chapter)
    if src_path is None:
        report.add("source notebook", False, f"no notebook in notebooks/{chapter}/")
        return report
    root = make_course_dir(workdir / chapter, [chapter])

    proc = run_nbgrader("generate_assignment", chapter, "--force", cwd=root, check=False)
    release_path = release_notebook(root, chapter)
    report.add(
        "(a) release generates",
        proc.returncode == 0 and release_path.exists(),
        f"exit {proc.returncode}" + ("" if proc.returncode == 0 else f": {proc.stderr[-400:]}"),
    )
    if not release_path.exists():
        return report
    source = nbformat.read(src_path, as_version=4)
    release = nbformat.read(release_path, as_version=4)

    leaks = leaked_lines(source, release)
    report.add(
        "(d) nothing hidden in the release",
        not leaks,
        "no solution or hidden-test line found" if not leaks else f"leaked: {leaks[:3]}",
    )

    solution = fixtures.solved(release, source)
    notebooks = {SOLUTION: solution, BLANK: release}
    submissions: dict[str, fixtures.Fixture | None] = {SOLUTION: None, BLANK: None}
    bad_fixtures: list[str] = []
    for kind, items in (
        ("mutant", fixtures.mutants(chapter)),
        ("alt", fixtures.alternatives(chapter)),
    ):
        for fx in items:
            student = _student_id(kind, fx.name)
            try:
                notebooks[student] = fixtures.apply(solution, fx)
            except ValueError as error:
                bad_fixtures.append(str(error))
                continue
            submissions[student] = fx
    if bad_fixtures:
        report.add("fixtures apply", False, "; ".join(bad_fixtures))

    if plain:
        # Shard the students over course-directory copies (each with its own gradebook, made by
        # the same generate_assignment) and autograde the shards in parallel.
        shards = [root] + [root.with_name(f"{root.name}-shard{i}") for i in range(1, jobs)]
        for shard in shards[1:]:
            if shard.exists():
                shutil.rmtree(shard)
            shutil.copytree(root, shard)
        home: dict[str, Path] = {}
        for i, (student, nb) in enumerate(notebooks.items()):
            home[student] = shards[i % len(shards)]
            submit(home[student], chapter, student, nb)
        for shard, proc in zip(shards, autograde_in_parallel(shards, chapter)):
            if proc.returncode == 0:
                continue
            # A kernel that failed to start on a busy machine fails only that student: grade the
            # students nbgrader reports as failed once more, alone, before calling it a failure.
            failed = FAILED_STUDENT.findall(proc.stdout + proc.stderr)
            retried = [
                run_nbgrader(
                    "autograde", chapter, "--student", s, "--force", cwd=shard, check=False
                )
                for s in failed
            ]
            if not failed or any(r.returncode != 0 for r in retried):
                tail = (retried[-1].stderr if retried else proc.stderr)[-600:]
                report.add("autograde runs", False, f"{shard.name}: exit {proc.returncode}: {tail}")
                return report
    else:
        # The project's grader: nbgrader's own Autograde per submission, warm kernels, parallel
        # (tests/test_grade.py proves it scores exactly as `nbgrader autograde` does).
        from autograder.grade import Options, grade

        home = dict.fromkeys(notebooks, root)
        for student, nb in notebooks.items():
            submit(root, chapter, student, nb)
        results = grade(root, chapter, Options(workers=jobs, force=True), progress=False)
        broken = [f"{r.student}: {r.error.strip()[-300:]}" for r in results if not r.success]
        if broken:
            report.add("autograde runs", False, "; ".join(broken))
            return report

    def grades_of(student: str) -> dict:
        return grades(home[student], chapter, student)

    ref = grades_of(SOLUTION)
    score, total = _total(ref)
    failing = [f"{r.grade_id}: {r.errors[:200]}" for r in ref.values() if r.score < r.max_score]
    report.add(
        "(b) solution scores full marks",
        total > 0 and score == total,
        f"{score:g}/{total:g}" + (f"; {failing}" if failing else ""),
    )
    blank = grades_of(BLANK)
    score, total = _total(blank)
    report.add(
        "(c) blank release scores zero",
        score == 0 and len(blank) == len(ref),
        f"{score:g}/{total:g}, graded without crashing",
    )

    for student, fx in submissions.items():
        if fx is None:
            continue
        results = grades_of(student)
        score, total = _total(results)
        if student.startswith("alt-"):
            failing = [
                f"{r.grade_id}: {r.errors[:200]}" for r in results.values() if r.score < r.max_score
            ]
            report.add(
                f"(+) alternative {fx.name}",
                score == total,
                f"{score:g}/{total:g}" + (f"; {failing}" if failing else f" ({fx.why})"),
            )
            continue
        report.add(f"(e) mutant {fx.name}", *_judge_mutant(fx, results))
    return report


def _judge_mutant(fx: fixtures.Fixture, results: dict) -> tuple[bool, str]:
    score, total = _total(results)
    if score >= total:
        return False, f"NOT CAUGHT: scored {score:g}/{total:g} ({fx.why})"
    problems = []
    for grade_id in fx.fails:
        r = results.get(grade_id)
        if r is None:
            problems.append(f"no test cell {grade_id!r}")
        elif r.score >= r.max_score:
            problems.append(f"{grade_id} passed")
    fragments = fx.message_fragments()
    if fragments:
        shown = "\n".join(results[g].errors for g in fx.fails if g in results) or "\n".join(
            r.errors for r in results.values()
        )
        if not all(part in shown for part in fragments):
            problems.append(f"message {fx.message!r} not shown; cell said: {shown[:300]!r}")
    if problems:
        return False, "; ".join(problems)
    return True, f"{score:g}/{total:g} ({fx.why})"


def selfcheck(
    chapters: list[str],
    workdir: Path | None = None,
    jobs: int | None = None,
    plain: bool = False,
) -> list[ChapterReport]:
    """Check every chapter; a temporary directory is used unless ``workdir`` is given.

    ``jobs`` workers grade in parallel (default: one per CPU core). By default the project's
    grader does the grading (nbgrader's pipeline with warm kernels); ``plain`` uses the
    ``nbgrader autograde`` command itself, one kernel start per notebook.
    """
    jobs = max(1, jobs or os.cpu_count() or 1)
    if workdir is not None:
        return [check_chapter(ch, workdir, jobs, plain) for ch in chapters]
    with tempfile.TemporaryDirectory(prefix="cnn-selfcheck-") as tmp:
        return [check_chapter(ch, Path(tmp), jobs, plain) for ch in chapters]
