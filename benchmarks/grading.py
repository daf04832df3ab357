"""Benchmark: plain `nbgrader autograde` against `python -m autograder grade`, same submissions.

    python benchmarks/grading.py --per-chapter 40            # every chapter, 40 submissions each
    python benchmarks/grading.py --chapters ch01_pixels --per-chapter 10 --skip-plain

For each chapter it builds a course in a temporary folder, generates the release and N
submissions (cycling through the reference solution, each mutant fixture and the blank
release: correct, partly wrong and blank work), then grades identical copies with plain
nbgrader (one process, one kernel per notebook, sequential) and with the grader at 1 and 2
workers. It prints seconds per submission, submissions per minute and whether every score
agrees. The per-notebook overhead: each submission's grading time (from its marker, so without
Dask's scheduling) minus the time its cells ran in the grader's kernel (nbclient's
``record_timing`` metadata: ``iopub.execute_input`` to ``shell.execute_reply``), medians over
the submissions a worker graded after its first (which also starts the zygote); of it, the
time between cells (a cell's reply to the next one's start), which plain nbgrader pays too.
tests/fixtures/course/tiny, whose cells take microseconds, shows the overhead alone.

``--output benchmarks/RESULTS.md`` appends the table with the date, commit and load average.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder import course, fixtures
from autograder.grade import MARKER, Options, grade
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
    # correct and blank first, so that even a few submissions have both, then every mutant
    variants = [solution, release] + [
        fixtures.apply(solution, m) for m in fixtures.mutants(chapter)
    ]
    for i in range(n):
        folder = root / "submitted" / f"student{i:03d}" / chapter
        folder.mkdir(parents=True)
        nbformat.write(variants[i % len(variants)], folder / name)


def scores(root: Path, chapter: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(chapter)}


def _seconds(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def cell_times(folder: Path) -> tuple[float, float]:
    """Seconds the cells of the notebooks in a graded folder ran in their kernel, and seconds
    between them.

    Ran: nbclient's ``record_timing`` metadata, ``iopub.execute_input`` to
    ``shell.execute_reply`` of each cell. Between: a cell's ``shell.execute_reply`` to the next
    cell's ``iopub.execute_input``, the Jupyter protocol's round trip per cell (nbclient sends
    the request and waits for the kernel to go idle; the kernel receives it and announces it),
    which any execution of the notebook through a kernel pays, plain nbgrader's too.
    """
    ran = between = 0.0
    for path in folder.glob("*.ipynb"):
        stamps = [
            (_seconds(t["iopub.execute_input"]), _seconds(t["shell.execute_reply"]))
            for cell in nbformat.read(path, as_version=4).cells
            if "iopub.execute_input" in (t := cell.metadata.get("execution", {}))
            and "shell.execute_reply" in t
        ]
        ran += sum(end - start for start, end in stamps)
        between += sum(nxt[0] - prev[1] for prev, nxt in itertools.pairwise(stamps))
    return ran, between


def own_compute(root: Path, chapter: str) -> tuple[float, float]:
    """Medians over submissions of the time their cells ran under plain nbgrader, and of the
    time between them (:func:`cell_times`)."""
    times = [cell_times(f) for f in sorted((root / "autograded").glob(f"*/{chapter}"))]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def overhead(root: Path, chapter: str, results) -> tuple[float, float, float, float]:
    """Medians per submission of: grading seconds, seconds the cells ran, the difference (the
    overhead), and of it the seconds between cells (:func:`cell_times`).

    The first submission each worker graded is left out: it also started the zygote.
    """
    first: dict[str, tuple[str, float]] = {}
    for r in results:  # results are sorted by student; a worker's first is its earliest marker
        marker = root / "autograded" / r.student / chapter / MARKER
        if r.worker not in first or marker.stat().st_mtime < first[r.worker][1]:
            first[r.worker] = (r.student, marker.stat().st_mtime)
    skip = {student for student, _ in first.values()}
    grading, cells, between = [], [], []
    for r in results:
        if r.student in skip or not r.success:
            continue
        folder = root / "autograded" / r.student / chapter
        grading.append(json.loads((folder / MARKER).read_text())["seconds"])
        ran, gaps = cell_times(folder)
        cells.append(ran)
        between.append(gaps)
    g, c, b = statistics.median(grading), statistics.median(cells), statistics.median(between)
    return g, c, statistics.median(a - b for a, b in zip(grading, cells)), b


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def bench(
    chapter: str,
    source_dir: Path,
    n: int,
    work: Path,
    plain: bool,
    options: dict,
    saved: Path | None = None,
    run: int = 1,
    label: str = "",
) -> tuple[list[str], list[str], dict[str, float]]:
    """Rows of the throughput table, rows of the per-notebook time table, and the seconds per
    submission of each grader ("plain", "1", "2": workers).

    ``saved``: a JSON file of plain nbgrader's scores and cell times per chapter, written when
    plain nbgrader runs and read when it does not, so that a run with ``--skip-plain`` still
    compares every score (the submissions are built the same way every time). ``run``: the
    repetition (``--repeat``); every run grades copies of the same submissions, built once;
    ``label`` follows the chapter's name in the rows.
    """
    base = work / chapter / "base"
    if not base.exists():
        build(base, chapter, source_dir, n)
    work = work / chapter / f"run{run}"
    rows, overheads, reference, compute = [], [], None, None
    per_submission: dict[str, float] = {}
    known = json.loads(saved.read_text()) if saved and saved.is_file() else {}
    if not plain and f"{chapter}/{n}" in known:
        reference = known[f"{chapter}/{n}"]["scores"]
        compute = (known[f"{chapter}/{n}"]["cells"], known[f"{chapter}/{n}"].get("between"))
    if plain:
        root = work / "plain"
        shutil.copytree(base, root)
        seconds = timed(run_nbgrader, "autograde", chapter, "--force", cwd=root)
        per_submission["plain"] = seconds / n
        reference = scores(root, chapter)
        compute = own_compute(root, chapter)
        if saved:
            known[f"{chapter}/{n}"] = {
                "scores": reference,
                "cells": compute[0],
                "between": compute[1],
            }
            saved.write_text(json.dumps(known, indent=1, sort_keys=True))
        rows.append(
            f"| {chapter}{label} | nbgrader autograde | {n} | {seconds / n:.2f} | "
            f"{60 * n / seconds:.1f} | reference |"
        )
    for workers in (1, 2):
        root = work / f"grade{workers}"
        shutil.copytree(base, root)
        opts = Options(workers=workers, **options)
        start = time.perf_counter()
        results = grade(root, chapter, opts, progress=False)
        seconds = time.perf_counter() - start
        per_submission[str(workers)] = seconds / n
        got = scores(root, chapter)
        g, c, o, b = overhead(root, chapter, results)
        base_cells, base_between = (
            "n/a" if x is None else f"{x:.3f}" for x in (compute or (None, None))
        )
        overheads.append(
            f"| {chapter}{label} | {workers} | {g:.3f} | {c:.3f} | {o:.3f} | {b:.3f} | "
            f"{o - b:.3f} | {base_cells} | {base_between} |"
        )
        same = "n/a" if reference is None else ("identical" if got == reference else "DIFFERENT")
        rows.append(
            f"| {chapter}{label} | autograder grade, {workers} worker(s) | {n} | {seconds / n:.2f}"
            f" | {60 * n / seconds:.1f} | {same} |"
        )
    return rows, overheads, per_submission


def speedups(runs: dict[str, list[dict[str, float]]]) -> list[str]:
    """Rows of the summary over repeated runs: plain nbgrader's seconds per submission over
    the grader's with 2 workers, in each run (the two timed in the same minutes), their median
    and range. Chapters whose runs did not time both are left out."""
    rows = []
    for chapter, timings in runs.items():
        pairs = [(t["plain"], t["2"]) for t in timings if "plain" in t and "2" in t]
        if not pairs:
            continue
        ratios = [plain / ours for plain, ours in pairs]
        rows.append(
            f"| {chapter} | {len(pairs)} | "
            + ", ".join(f"{p:.2f} / {o:.2f} = {r:.1f}x" for (p, o), r in zip(pairs, ratios))
            + f" | {statistics.median(ratios):.1f}x | {min(ratios):.1f}-{max(ratios):.1f}x |"
        )
    return rows


def off(args) -> dict[str, bool]:
    """The Options switched off on the command line (those this commit's Options has)."""
    fields = Options.__dataclass_fields__
    wanted = {"hardened": args.no_hardened, "sandbox": args.no_sandbox, "figures": args.no_figures}
    return {k: False for k, v in wanted.items() if v and k in fields}


SPIN = """
import time
start = time.perf_counter()
total = 0
for i in range(10_000_000):
    total += i * i
print(time.perf_counter() - start)
"""


def parallel_yardstick(rounds: int = 3) -> str:
    """How much two CPU-bound processes gain on this machine over one: a pure-Python loop timed
    alone, then two copies at once (medians over ``rounds``). Two real cores give 2.0x; a VM's
    two vCPUs that share their host's cores give less, and so does a grader's second worker."""
    alone, paired = [], []
    for _ in range(rounds):
        run = [sys.executable, "-c", SPIN]
        alone.append(float(subprocess.run(run, capture_output=True, text=True).stdout))
        both = [subprocess.Popen(run, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        paired.append(max(float(p.communicate()[0]) for p in both))
    one, two = statistics.median(alone), statistics.median(paired)
    return (
        f"two CPU-bound processes at once: {2 * one / two:.2f}x the throughput of one"
        f" (a loop took {one:.2f} s alone, {two:.2f} s two at once)"
    )


def context() -> str:
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=course.ROOT, capture_output=True, text=True
    ).stdout.strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    when = datetime.datetime.now().astimezone().isoformat(timespec="minutes")
    return f"{when}, commit {commit or 'unknown'}, {os.cpu_count()} CPUs, load average {load}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", nargs="*", default=None)
    parser.add_argument("--per-chapter", type=int, default=40)
    parser.add_argument(
        "--tiny", type=int, help="submissions of the tiny notebook (--per-chapter; 0: skip it)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="time everything this many times (a summary)"
    )
    parser.add_argument("--label", default="", help="added to the header (what was measured)")
    parser.add_argument("--skip-plain", action="store_true", help="do not time plain nbgrader")
    parser.add_argument("--output", type=Path, help="append the tables to this Markdown file")
    parser.add_argument("--no-hardened", action="store_true", help="Options(hardened=False)")
    parser.add_argument("--no-sandbox", action="store_true", help="Options(sandbox=False)")
    parser.add_argument("--no-figures", action="store_true", help="Options(figures=False)")
    parser.add_argument(
        "--plain-scores",
        type=Path,
        help="JSON file: plain nbgrader's scores are saved here, or with --skip-plain read",
    )
    args = parser.parse_args()
    extra = off(args)
    chapters = args.chapters or course.existing_chapters()
    header = [
        "| chapter | grader | submissions | s / submission | submissions / min | scores |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    started = context()
    parallel_before = parallel_yardstick()
    runs: dict[str, list[dict[str, float]]] = {}
    rows, times = [], []
    print("\n".join(header), flush=True)
    with tempfile.TemporaryDirectory(prefix="cnn-bench-") as tmp:
        n_tiny = args.per_chapter if args.tiny is None else args.tiny
        suites = ([("tiny", TINY, n_tiny)] if n_tiny else []) + [
            (chapter, course.SOURCE / chapter, args.per_chapter) for chapter in chapters
        ]
        # run by run, every chapter in each: a slow spell of the machine falls on one run of
        # every chapter rather than on every run of one
        for run in range(1, args.repeat + 1):
            for name, source_dir, n in suites:
                more, more_times, seconds = bench(
                    name,
                    source_dir,
                    n,
                    Path(tmp),
                    not args.skip_plain,
                    extra,
                    args.plain_scores,
                    run,
                    f" (run {run})" if args.repeat > 1 else "",
                )
                runs.setdefault(name, []).append(seconds)
                rows += more
                times += more_times
                print("\n".join(more + more_times), flush=True)
    report = [
        f"Started {started}; finished {context()}. Options: {extra or 'defaults'}. {args.label}",
        "",
        f"This machine: {parallel_before} before the runs; {parallel_yardstick()} after them.",
        "",
        *header,
        *rows,
    ]
    if times:
        report += [
            "",
            "Per notebook, steady state (medians over the submissions a worker graded after its",
            "first, seconds): grading time from the marker; the time the cells ran in the",
            "grader's (student) kernel; the overhead is the difference (hardened: it includes the",
            "test cells, which run in the trusted kernel), split into the time between cells (one",
            "cell's reply to the next cell's start: the Jupyter protocol's round trip per cell)",
            "and the rest, per notebook (kernel start, nbgrader's steps); last, the time the",
            "cells ran under plain nbgrader, where the first cell also imports torch, and the",
            "time between its cells.",
            "",
            "| chapter | workers | grading | cells ran | overhead | between cells | per notebook"
            " | cells, plain nbgrader | between cells, plain |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *times,
        ]
    summary = speedups(runs) if args.repeat > 1 else []
    if summary:
        report += [
            "",
            "Speed-up over the runs (plain nbgrader's s / submission over the grader's with 2",
            "workers, timed in the same minutes of each run):",
            "",
            "| chapter | runs | plain / 2 workers, each run | median | range |",
            "| --- | --- | --- | --- | --- |",
            *summary,
        ]
    print("\n".join(["", *report]))
    if args.output:
        with args.output.open("a") as f:
            f.write("\n".join(["", f"## {started.split(',')[0]}", "", *report, ""]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
