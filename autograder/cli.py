"""Instructor command line: ``python -m autograder VERB``. Thin: parses, calls a module, reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import course


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
    reports = selfcheck(_chapters(args.chapters), workdir, args.jobs)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser("release", help="generate student versions into release/ and exercises/")
    p.add_argument("chapters", nargs="*", help="chapters (default: every chapter with a notebook)")
    p.set_defaults(run=cmd_release)

    p = verbs.add_parser("selfcheck", help="prove solutions score full, blanks zero, mutants lose")
    p.add_argument("chapters", nargs="*", help="chapters (default: every chapter with a notebook)")
    p.add_argument("--workdir", help="keep the throwaway course directory here for inspection")
    p.add_argument("--jobs", type=int, help="nbgrader processes in parallel (default: CPU cores)")
    p.set_defaults(run=cmd_selfcheck)

    p = verbs.add_parser("demo", help="release, autograde three example students, print grades")
    p.add_argument("chapters", nargs="*", help="chapters (default: every chapter with a notebook)")
    p.set_defaults(run=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
