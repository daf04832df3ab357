"""Instructor command line: ``python -m autograder VERB``. Thin: parses, calls a module, reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import course
from autograder import messages as M


def _chapters(names: list[str]) -> list[str]:
    declared = course.chapters()
    unknown = [n for n in names if n not in declared]
    if unknown:
        raise SystemExit(f"unknown chapter(s) {unknown}; the course declares {declared}")
    return names or course.existing_chapters()


def cmd_release(args: argparse.Namespace) -> int:
    from autograder.release import release

    for path in release(_chapters(args.chapters)):
        print(f"student version: {path.relative_to(course.ROOT)}")
    return 0


def cmd_selfcheck(args: argparse.Namespace) -> int:
    from autograder.selfcheck import selfcheck

    workdir = Path(args.workdir) if args.workdir else None
    from autograder.grade import GradingError

    try:
        reports = selfcheck(_chapters(args.chapters), workdir, args.jobs, args.plain)
    except GradingError as error:  # e.g. the sandbox cannot be set up
        print(f"error: {error}", file=sys.stderr)
        return 2
    for report in reports:
        print(report.table())
    failed = [r.chapter for r in reports if not r.ok]
    print(
        f"selfcheck: {len(reports) - len(failed)} of {len(reports)} chapters pass"
        + (f"; failing: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from autograder.demo import demo

    print(demo(_chapters(args.chapters)))
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder.grade import GradingError, Options, grade, summary

    opts = Options(
        workers=args.workers,
        scheduler=args.scheduler,
        db_url=args.db,
        cell_timeout=args.cell_timeout,
        notebook_timeout=args.notebook_timeout,
        memory_mb=args.memory_mb,
        warm=not args.cold,
        force=args.force,
        sandbox=not args.no_sandbox,
        hardened=not args.unhardened,
        figures=not args.no_figures,
    )
    if not opts.sandbox:
        print(f"\n{'!' * 78}\n{M.SANDBOX_OFF}\n{'!' * 78}\n", file=sys.stderr)
    if not opts.hardened:
        print(f"\n{'!' * 78}\n{M.HARDENED_OFF}\n{'!' * 78}\n", file=sys.stderr)
    root = Path(args.root)
    try:
        results = grade(root, args.assignment, opts)
    except GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary(root, args.assignment, results, opts))
    return 1 if any(not r.success for r in results) else 0


def cmd_report(args: argparse.Namespace) -> int:
    from autograder.report import report

    out = Path(args.out or Path(args.root) / "reports" / args.assignment)
    csv_path, html_path = report(Path(args.root), args.assignment, out, args.db)
    print(f"grades: {csv_path}\nitem analysis: {html_path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser("release", help="generate student versions into release/ and exercises/")
    p.add_argument("chapters", nargs="*", help="chapters (default: every chapter with a notebook)")
    p.set_defaults(run=cmd_release)

    p = verbs.add_parser("selfcheck", help="prove solutions score full, blanks zero, mutants lose")
    p.add_argument("chapters", nargs="*", help="chapters (default: every chapter with a notebook)")
    p.add_argument("--workdir", help="keep the throwaway course directory here for inspection")
    p.add_argument("--jobs", type=int, help="graders in parallel (default: CPU cores)")
    p.add_argument(
        "--plain", action="store_true", help="grade with the `nbgrader autograde` command"
    )
    p.set_defaults(run=cmd_selfcheck)

    p = verbs.add_parser("grade", help="autograde every submission, in parallel and resumably")
    p.add_argument("assignment")
    p.add_argument("--root", default=".", help="the course directory (default: here)")
    p.add_argument("--workers", type=int, default=0, help="local workers (default: CPU cores)")
    p.add_argument("--scheduler", help="a Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--db", help="gradebook URL, e.g. postgresql://user@host/gradebook")
    p.add_argument("--cell-timeout", type=int, help="seconds per cell (default: nbgrader_config)")
    p.add_argument("--notebook-timeout", type=int, default=900, help="seconds per notebook")
    p.add_argument("--memory-mb", type=int, default=4096, help="memory limit per kernel")
    p.add_argument("--cold", action="store_true", help="fresh kernels, as nbgrader starts them")
    p.add_argument("--force", action="store_true", help="regrade submissions graded before")
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code with your rights: no bubblewrap sandbox (trusted code only)",
    )
    p.add_argument(
        "--unhardened",
        action="store_true",
        help="test cells run in the student's kernel, as in nbgrader (they can be tampered with)",
    )
    p.add_argument(
        "--no-figures",
        action="store_true",
        help="students' kernels draw no matplotlib figures: faster; scores are the same, the"
        " graded notebooks and feedback show one line of text per figure",
    )
    p.set_defaults(run=cmd_grade)

    p = verbs.add_parser("report", help="grades CSV and an item-analysis HTML page")
    p.add_argument("assignment")
    p.add_argument("--root", default=".", help="the course directory (default: here)")
    p.add_argument("--db", help="gradebook URL (default: the course's SQLite gradebook)")
    p.add_argument("--out", help="output folder (default: reports/<assignment>)")
    p.set_defaults(run=cmd_report)

    p = verbs.add_parser("demo", help="release, autograde three example students, print grades")
    p.add_argument("chapters", nargs="*", help="chapters (default: every chapter with a notebook)")
    p.set_defaults(run=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
