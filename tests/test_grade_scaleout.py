"""Does the grader work through a real Dask cluster and a real PostgreSQL gradebook?

Both services are started here on loopback and stopped afterwards. PostgreSQL comes from
Debian's `postgresql` package, which .ci/run installs.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from test_grade import TINY, submit

from autograder import course
from autograder.grade import Options, grade
from autograder.nbgrader_tools import nbgrader_env, run_nbgrader
from autograder.report import item_analysis, report

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up in {seconds} s")
        time.sleep(0.2)


@pytest.fixture
def dask_scheduler(tmp_path):
    """A `dask scheduler` and two `dask worker` processes on 127.0.0.1."""
    dask = str(Path(sys.executable).parent / "dask")
    info = tmp_path / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": nbgrader_env()}
    procs = [
        subprocess.Popen(
            [
                dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(info),
            ],
            **quiet,
        )
    ]
    try:
        wait_for(info.exists, 60, "the dask scheduler")
        address = json.loads(info.read_text())["address"]
        for name in ("w1", "w2"):
            procs.append(
                subprocess.Popen(
                    [
                        dask,
                        "worker",
                        address,
                        "--name",
                        name,
                        "--nthreads",
                        "1",
                        "--memory-limit",
                        "0",
                        "--no-dashboard",
                    ],
                    **quiet,
                )
            )
        from dask.distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


@pytest.fixture
def postgres():
    """A PostgreSQL server on a free loopback port with an empty `gradebook` database."""
    initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdb:
        pytest.skip("no PostgreSQL server: apt-get install postgresql (.ci/run does)")
    bindir = Path(initdb[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="cnn-pg-"))
    folder.chmod(0o755)
    data = folder / "data"
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(*cmd: str) -> None:
        subprocess.run([*as_postgres, *cmd], check=True, capture_output=True, cwd=folder)

    if as_postgres:
        shutil.chown(folder, "postgres")
    port = free_port()
    run(str(bindir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-w",
        "-l",
        str(folder / "log"),
        "start",
    )
    try:
        run(
            str(bindir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "gradebook",
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/gradebook"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def tiny_course(root: Path, db_url: str | None = None) -> Path:
    root.mkdir(parents=True)
    shutil.copy2(course.NBGRADER_CONFIG, root / "nbgrader_config.py")
    shutil.copytree(TINY, root / "notebooks" / "tiny")
    extra = [f"--CourseDirectory.db_url={db_url}"] if db_url else []
    run_nbgrader("generate_assignment", "tiny", "--force", *extra, cwd=root)
    for kind in ("correct", "partly", "blank", "erroring"):
        submit(root, kind, kind)
    return root


EXPECTED = {"blank": 0, "correct": 5, "erroring": 2, "partly": 3}


def test_does_grading_through_a_dask_scheduler_use_its_workers(dask_scheduler, tmp_path):
    root = tiny_course(tmp_path / "course")
    results = grade(root, "tiny", Options(scheduler=dask_scheduler), progress=False)
    assert all(r.success for r in results)
    assert {r.worker.split(":")[-1] for r in results} - {str(os.getpid())}, "graded on the workers"
    assert len({r.worker for r in results}) == 2, "both workers took submissions"
    _, totals, _ = item_analysis(f"sqlite:///{root / 'gradebook.db'}", "tiny")
    assert totals == EXPECTED


def test_does_a_postgres_gradebook_work_for_grade_export_and_report(postgres, tmp_path):
    root = tiny_course(tmp_path / "course", db_url=postgres)
    results = grade(root, "tiny", Options(workers=2, db_url=postgres), progress=False)
    assert all(r.success for r in results)
    assert not (root / "gradebook.db").exists(), "nothing went to SQLite"
    items, totals, max_total = item_analysis(postgres, "tiny")
    assert totals == EXPECTED and max_total == 5
    assert {i.grade_id: i.pass_rate for i in items}["test_add"] == 0.5
    csv_path, html_path = report(root, "tiny", tmp_path / "report", db_url=postgres)
    assert "correct" in csv_path.read_text() and "item analysis" in html_path.read_text()
