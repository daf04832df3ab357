"""Where does the time go when one submission is graded? Phase by phase, in one process.

    python benchmarks/profile_submission.py                 # 12 tiny submissions, warm kernels
    python benchmarks/profile_submission.py --cold -n 6     # kernels started the plain way

It builds the tiny course of tests/test_grade.py (half solved, half blank), grades the
submissions one after another with ``grade_one`` (no Dask), timing nbgrader's phases, the
kernel manager's and client's calls and every cell, and prints per-submission medians. The
first submission is left out: it starts the zygote.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_grade import make_course, submit

from autograder import grade as G

TIMES: dict[str, list[float]] = {}


def timed(cls: type, name: str, label: str | None = None) -> None:
    """Record the duration of every call of ``cls.name`` under ``label``."""
    fn = getattr(cls, name)
    label = label or f"{cls.__name__}.{name}"

    def record(start: float) -> None:
        TIMES.setdefault(label, []).append(time.perf_counter() - start)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                record(start)
    else:

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                record(start)

    setattr(cls, name, wrapper)


def instrument() -> None:
    import nbgrader.preprocessors as P
    from jupyter_client.asynchronous.client import AsyncKernelClient
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.client import NotebookClient
    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters import Autograde

    from autograder.execute import ResilientExecute

    timed(NbGraderAPI, "autograde", "total: NbGraderAPI.autograde")
    timed(Autograde, "init_assignment", "nbgrader: init_assignment (gradebook, copies)")
    for cls in (
        P.OverwriteCells,
        P.CheckCellMetadata,
        P.OverwriteKernelspec,
        P.SaveAutoGrades,
        P.AssignLatePenalties,
    ):
        timed(cls, "preprocess", f"nbgrader: {cls.__name__}")
    try:  # the grader's own CheckCellMetadata (checkcellmetadata.py), when this commit has it
        from autograder.checkcellmetadata import CachedCheckCellMetadata

        timed(CachedCheckCellMetadata, "preprocess", "nbgrader: CheckCellMetadata")
    except ImportError:
        pass
    timed(ResilientExecute, "preprocess", "execute: total")
    timed(AsyncKernelManager, "start_kernel", "execute: start_kernel (launcher)")
    timed(AsyncKernelClient, "start_channels", "execute: start_channels")
    timed(AsyncKernelClient, "wait_for_ready", "execute: wait_for_ready")
    try:  # the grader's own client (kernelclient.py), when this commit has it
        from autograder.kernelclient import GradingKernelClient

        timed(GradingKernelClient, "wait_for_ready", "execute: wait_for_ready")
    except ImportError:
        pass
    timed(NotebookClient, "execute_cell", "execute: execute_cell (all cells)")
    timed(AsyncKernelManager, "shutdown_kernel", "execute: shutdown_kernel")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=12, help="submissions (the first is not counted)")
    parser.add_argument("--cold", action="store_true", help="plain kernels, not forked")
    parser.add_argument("--no-hardened", action="store_true", help="Options(hardened=False)")
    parser.add_argument("--no-sandbox", action="store_true", help="Options(sandbox=False)")
    args = parser.parse_args()
    fields = G.Options.__dataclass_fields__
    wanted = {"hardened": args.no_hardened, "sandbox": args.no_sandbox}
    extra = {k: False for k, v in wanted.items() if v and k in fields}
    instrument()
    with tempfile.TemporaryDirectory(prefix="cnn-profile-") as tmp:
        root = make_course(Path(tmp) / "course")
        for i in range(args.n):
            submit(root, f"s{i:03d}", "blank" if i % 2 else "correct")
        opts = G.Options(warm=not args.cold, **extra)
        totals = []
        for i in range(args.n):
            if i == 1:
                TIMES.clear()
            start = time.perf_counter()
            result = G.grade_one(root, "tiny", f"s{i:03d}", opts)
            if not result.success:
                print(result.error, file=sys.stderr)
                return 1
            if i:
                totals.append(time.perf_counter() - start)
        if G._WARM is not None:
            G._WARM.stop()
        shutil.rmtree(root, ignore_errors=True)
    n = len(totals)
    print(
        f"grade_one: median {1000 * statistics.median(totals):.0f} ms over {n} submissions", extra
    )
    print(f"{'phase':<52} {'ms / submission':>16} {'calls':>6} {'median ms / call':>17}")
    for label, values in sorted(TIMES.items()):
        print(
            f"{label:<52} {1000 * sum(values) / n:>16.0f} {len(values) / n:>6.1f}"
            f" {1000 * statistics.median(values):>17.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
