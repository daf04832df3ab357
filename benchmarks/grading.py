"""Benchmark: plain `nbgrader autograde` against `python -m autograder grade`, same submissions.

    python benchmarks/grading.py --per-chapter 40            # every chapter, 40 submissions each
    python benchmarks/grading.py --chapters ch01_pixels --per-chapter 10 --skip-plain

For each chapter it builds a course in a temporary folder, generates the release and N
submissions (cycling through the reference solution, each mutant fixture and the blank
release: correct, partly wrong and blank work), then grades identical copies with plain
nbgrader (one process, one kernel per notebook, sequential) and with the grader at 1 and 2
workers. It prints seconds per submission, submissions per minute and whether every score
agrees. The per-notebook overhead is measured on tests/fixtures/course/tiny, whose cells take
microseconds, so its grading time is overhead only.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder import course, fixtures
from autograder.grade import Options, grade
from autograder.nbgrader_tools import run_nbgrader

TINY = course.ROOT / "tests" / "fixtures" / "course" / "notebooks" / "tiny"


def build(root: Path, chapter: str, source_dir: Path, n: int) -> None:
    root.mkdir(parents=True)
    shutil.copy2(course.NBGRADER_CONFIG, root / "nbgrader_config.py")
    shutil.copytree(source_dir, root / "notebooks" / chapter)
    run_nbgrader("generate_assignment", chapter, "--force", cwd=root)
    name = next(source_dir.glob("*.ipynb")).name
    release = nbformat.read(root / "release" / chapter / name, as_version=4)
    source = nbformat.read(source_dir / name, as_version=4)
    solution = fixtures.solved(release, source)
    variants = [solution] + [fixtures.apply(solution, m) for m in fixtures.mutants(chapter)]
    variants.append(release)
    for i in range(n):
        folder = root / "submitted" / f"student{i:03d}" / chapter
        folder.mkdir(parents=True)
        nbformat.write(variants[i % len(variants)], folder / name)


def scores(root: Path, chapter: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(chapter)}


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def bench(chapter: str, source_dir: Path, n: int, work: Path, plain: bool) -> list[str]:
    base = work / chapter / "base"
    build(base, chapter, source_dir, n)
    rows, reference = [], None
    if plain:
        root = work / chapter / "plain"
        shutil.copytree(base, root)
        seconds = timed(run_nbgrader, "autograde", chapter, "--force", cwd=root)
        reference = scores(root, chapter)
        rows.append(
            f"| {chapter} | nbgrader autograde | {n} | {seconds / n:.2f} | "
            f"{60 * n / seconds:.1f} | reference |"
        )
    for workers in (1, 2):
        root = work / chapter / f"grade{workers}"
        shutil.copytree(base, root)
        opts = Options(workers=workers)
        seconds = timed(grade, root, chapter, opts, progress=False)
        got = scores(root, chapter)
        same = "n/a" if reference is None else ("identical" if got == reference else "DIFFERENT")
        rows.append(
            f"| {chapter} | autograder grade, {workers} worker(s) | {n} | {seconds / n:.2f}"
            f" | {60 * n / seconds:.1f} | {same} |"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", nargs="*", default=None)
    parser.add_argument("--per-chapter", type=int, default=40)
    parser.add_argument("--skip-plain", action="store_true", help="do not time plain nbgrader")
    args = parser.parse_args()
    chapters = args.chapters or course.existing_chapters()
    header = [
        "| chapter | grader | submissions | s / submission | submissions / min | scores |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory(prefix="cnn-bench-") as tmp:
        rows = bench("tiny", TINY, args.per_chapter, Path(tmp), not args.skip_plain)
        print("\n".join(header + rows), flush=True)
        for chapter in chapters:
            more = bench(
                chapter, course.SOURCE / chapter, args.per_chapter, Path(tmp), not args.skip_plain
            )
            rows += more
            print("\n".join(more), flush=True)
    print("\n".join(["", *header, *rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
