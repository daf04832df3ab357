"""Does the sandbox hold against hostile submissions, without costing honest students anything?

One batch grades the tiny assignment (tests/fixtures/course) for a few students whose notebooks
are the solution plus extra cells that attack the grader: each attack must fail, the graded
cells before it must keep their points, the batch must finish, and an honest student graded
right after them on the same worker must get full marks with nothing left behind.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from test_grade import TINY, cell_errors, cell_scores, make_course

import autograder
from autograder import course, fixtures
from autograder import messages as M
from autograder.grade import GradingError, Options, _check_sandbox, grade

OUTPUT_LIMIT = 1 << 20  # ResilientExecute.output_limit_bytes' default
FULL = 5  # the tiny assignment's points


def probe(name: str, code: str) -> str:
    """A cell whose outputs the tests find by its first line."""
    return f"# probe: {name}\n{code}"


def try_read(paths: list[Path]) -> str:
    return "\n".join(
        f"try:\n    open({str(p)!r}, 'rb').read(1)\n    print('LEAK', {str(p)!r})\n"
        f"except OSError as e:\n    print('BLOCKED', type(e).__name__)"
        for p in paths
    )


def try_write(paths: list[Path]) -> str:
    return "\n".join(
        f"try:\n    open({str(p)!r}, 'w').write('pwned')\n    print('LEAK', {str(p)!r})\n"
        f"except OSError as e:\n    print('BLOCKED', type(e).__name__)"
        for p in paths
    )


FORK_BOMB = """
import subprocess
procs = []
try:
    for _ in range(500):  # bounded: harmless even if nothing stops it
        procs.append(subprocess.Popen(["sleep", "60"]))
except OSError:
    pass
print("SPAWNED", len(procs))
for p in procs:
    p.kill()
    p.wait()
"""
LEFTOVER = """
import subprocess
subprocess.Popen(["sh", "-c", "while :; do date > leftover.txt; sleep 0.1; done"],
                 start_new_session=True)
print("DAEMON STARTED")
"""
FLOOD = """
import sys
for _ in range(300):  # 30 MB
    sys.stdout.write("x" * 100_000 + "\\n")
print("FLOOD DONE")
"""
LIMITS = """
import resource
cpu, nproc = resource.RLIMIT_CPU, resource.RLIMIT_NPROC
print("LIMITS", resource.getrlimit(cpu)[0], resource.getrlimit(nproc)[0])
"""
AFTERMATH = """
import os
comms = set()
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        comms.add(open(f"/proc/{pid}/comm").read().strip())
    except OSError:
        pass
print("LEFTOVER", os.path.exists("leftover.txt"), "PROCESSES", sorted(comms))
print("FILES", sorted(os.listdir(".")))
"""
MEMORY_BOMB = """
import time
hog = [bytearray(100 * 2**20) for _ in range(30)]  # 3 GB in about a second, then held
time.sleep(5)  # the launcher reads the kernel's memory every half second
print("SURVIVED")
"""


def submit_with(root: Path, student: str, cells: list[str]) -> None:
    release = nbformat.read(root / "release" / "tiny" / "tiny.ipynb", as_version=4)
    source = nbformat.read(TINY / "tiny.ipynb", as_version=4)
    nb = fixtures.solved(release, source)
    nb.cells += [nbformat.v4.new_code_cell(code) for code in cells]
    folder = root / "submitted" / student / "tiny"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "tiny.ipynb")


def outputs(root: Path, student: str) -> dict[str, str]:
    """probe name -> the text of its outputs in the autograded notebook."""
    nb = nbformat.read(root / "autograded" / student / "tiny" / "tiny.ipynb", as_version=4)
    found = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("# probe: "):
            name = cell.source.splitlines()[0].removeprefix("# probe: ")
            found[name] = "\n".join(
                o.get("text", "") or f"{o.get('ename', '')}: {o.get('evalue', '')}"
                for o in cell.outputs
            )
    return found


def home_file() -> Path | None:
    return next((p for p in Path.home().iterdir() if p.is_file()), None)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The graded course, its listening server, and the paths the attacks aimed at."""
    root = make_course(tmp_path_factory.mktemp("sandbox") / "course")
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    port = server.getsockname()[1]
    secrets = [
        root / "gradebook.db",
        root / "notebooks" / "tiny" / "tiny.ipynb",
        root / "release" / "tiny" / "tiny.ipynb",
        root / "submitted" / "zz-honest" / "tiny" / "tiny.ipynb",
        root / "autograded" / "a-probe" / "tiny" / "tiny.ipynb",
        course.NBGRADER_CONFIG,
        *course.SOURCE.glob("*/*.ipynb"),
        *([home_file()] if home_file() else []),
    ]
    targets = [
        root / "pwned.txt",
        root / "submitted" / "zz-honest" / "tiny" / "pwned.txt",
        Path(autograder.__file__).parent / "pwned.py",
        Path(sys.prefix) / "pwned.txt",
        Path.home() / "pwned.txt",
        Path("/usr/pwned.txt"),
    ]
    network = (
        "import socket\ntry:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()\n"
        "    print('LEAK network')\n"
        "except OSError as e:\n    print('BLOCKED', type(e).__name__)"
    )
    submit_with(
        root,
        "a-probe",
        [
            probe("read", try_read(secrets)),
            probe("write", try_write(targets)),
            probe("network", network),
            probe("limits", LIMITS),
            probe("fork bomb", FORK_BOMB),
            probe("loop", "while True:\n    pass"),
            probe("after loop", "print('STILL RUNNING')"),
            probe("flood", FLOOD),
            probe("daemon", LEFTOVER),
        ],
    )
    submit_with(root, "b-exit", [probe("exit", "import os\nos._exit(3)")])
    submit_with(root, "c-segfault", [probe("segfault", "import ctypes\nctypes.string_at(0)")])
    submit_with(root, "d-memory", [probe("memory", MEMORY_BOMB)])
    submit_with(root, "zz-honest", [probe("aftermath", AFTERMATH)])
    opts = Options(workers=1, cell_timeout=10, memory_mb=600, cpu_seconds=600, max_processes=128)
    kernel_folders = set(Path(tempfile.gettempdir()).glob("cnn-warm-*"))
    try:
        results = grade(root, "tiny", opts, progress=False)
        left = set(Path(tempfile.gettempdir()).glob("cnn-warm-*")) - kernel_folders
        yield root, results, server, secrets, targets, left
    finally:
        server.close()
        for target in targets:
            if target.exists():
                target.unlink()


@pytest.mark.slow
def test_does_the_batch_finish_with_every_graded_cell_scored(batch):
    """Every attack fails, yet the graded cells (all before the attacks) keep their points."""
    root, results, *_ = batch
    assert [r.student for r in results if not r.success] == []
    scores = cell_scores(root)
    totals = {s: sum(v for (st, _), v in scores.items() if st == s) for s, _ in scores}
    assert totals == dict.fromkeys(
        ["a-probe", "b-exit", "c-segfault", "d-memory", "zz-honest"], FULL
    )


@pytest.mark.slow
def test_can_student_code_read_nothing_of_the_course_or_other_students(batch):
    root, _, _, secrets, *_ = batch
    seen = outputs(root, "a-probe")["read"]
    assert "LEAK" not in seen
    assert seen.count("BLOCKED") == len(secrets)
    assert all(p.exists() for p in secrets if "autograded" not in str(p)), "the targets exist"


@pytest.mark.slow
def test_can_student_code_write_only_to_its_scratch_folder(batch):
    root, _, _, _, targets, _ = batch
    seen = outputs(root, "a-probe")["write"]
    assert "LEAK" not in seen and seen.count("BLOCKED") == len(targets)
    assert not [t for t in targets if t.exists()]


@pytest.mark.slow
def test_is_the_network_unreachable_even_on_loopback(batch):
    root, _, server, *_ = batch
    assert "BLOCKED" in outputs(root, "a-probe")["network"]
    with pytest.raises(BlockingIOError):
        server.accept()  # nobody connected


@pytest.mark.slow
def test_are_cpu_and_process_limits_set_and_a_fork_bomb_stopped(batch):
    root, *_ = batch
    seen = outputs(root, "a-probe")
    assert seen["limits"].split() == ["LIMITS", "600", "128"]
    spawned = int(seen["fork bomb"].split()[-1])
    assert 0 < spawned < 128


@pytest.mark.slow
def test_does_an_infinite_loop_cost_only_its_cell(batch):
    root, *_ = batch
    seen = outputs(root, "a-probe")
    assert "KeyboardInterrupt" in seen["loop"]
    assert "STILL RUNNING" in seen["after loop"]


@pytest.mark.slow
def test_is_an_output_flood_cut_to_a_notice(batch):
    root, *_ = batch
    seen = outputs(root, "a-probe")["flood"]
    assert M.OUTPUT_TRUNCATED.format(limit=OUTPUT_LIMIT) in seen
    assert "FLOOD DONE" not in seen
    notebook = root / "autograded" / "a-probe" / "tiny" / "tiny.ipynb"
    assert notebook.stat().st_size < 3 * OUTPUT_LIMIT


@pytest.mark.slow
@pytest.mark.parametrize(
    ("student", "message"),
    [
        ("b-exit", M.KERNEL_DIED),
        ("c-segfault", M.KERNEL_DIED),
        ("d-memory", M.KERNEL_MEMORY.format(limit=600)),
    ],
)
def test_does_a_killed_kernel_cost_only_the_cells_after_it(batch, student, message):
    """os._exit, a segfault, the memory limit: the kernel dies in the last cell only."""
    root, *_ = batch
    assert message in cell_errors(root, student)
    assert "SURVIVED" not in outputs(root, student).get("memory", "")


@pytest.mark.slow
def test_does_the_batch_leave_no_kernel_folder_behind(batch):
    """The worker's sandboxed zygote (kernelspec, scratch with the students' copies) and the
    grader's trusted one: their folders are removed when the batch ends."""
    *_, left = batch
    assert not left


@pytest.mark.slow
def test_does_the_next_student_find_nothing_left_behind(batch):
    """The probe left a daemon writing into its folder; the honest student comes after it."""
    root, *_ = batch
    assert "DAEMON STARTED" in outputs(root, "a-probe")["daemon"]
    seen = outputs(root, "zz-honest")["aftermath"]
    assert seen.startswith("LEFTOVER False")
    assert "'sh'" not in seen and "'sleep'" not in seen
    assert "'tiny.ipynb'" in seen  # its own submission, and nothing else's


# --- refusing to grade without the sandbox (fast) -------------------------------------------


def test_is_grading_refused_when_bwrap_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GradingError) as error:
        _check_sandbox(Options())
    assert str(error.value) == M.SANDBOX_NO_BWRAP


def test_does_a_failing_sandbox_say_why_and_how_to_fix_it(monkeypatch, tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(GradingError) as error:
        _check_sandbox(Options())
    detail = "bwrap: No permissions to create new namespace"
    assert str(error.value) == M.SANDBOX_FAILED.format(detail=detail)


def test_are_cold_kernels_refused_unless_unsandboxed():
    with pytest.raises(GradingError, match="--cold"):
        _check_sandbox(Options(warm=False))
    _check_sandbox(Options(warm=False, sandbox=False))


def test_does_no_sandbox_warn_loudly(capsys, tmp_path):
    from autograder.cli import main

    (tmp_path / "nbgrader_config.py").write_text(course.NBGRADER_CONFIG.read_text())
    assert main(["grade", "tiny", "--root", str(tmp_path), "--no-sandbox"]) == 2
    assert M.SANDBOX_OFF in capsys.readouterr().err
