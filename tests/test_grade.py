"""Does the class grader agree with nbgrader, survive dead kernels and limits, and resume?

These tests grade a tiny assignment (tests/fixtures/course) so that each notebook takes well
under a second once the warm kernel is up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder import course, fixtures
from autograder import messages as M
from autograder.grade import (
    Options,
    _runs_tests,
    grade,
    is_done,
    known_cells,
    marker_path,
    submissions,
)
from autograder.nbgrader_tools import nbgrader_env, run_nbgrader

TINY = Path(__file__).parent / "fixtures" / "course" / "notebooks" / "tiny"
WRONG = {
    "partly": {"square": "def square(x):\n    return x + x"},
    "erroring": {"add": "def add(a, b):\n    return a +"},
    "dead": {"square": "import os\nos._exit(3)"},
    "hog": {"square": "hog = bytearray(900 * 2**20)\ndef square(x):\n    return x * x"},
    "slow": {"square": "import time\ntime.sleep(120)"},
    # the kernel's parent, its threads, and whether Dask's malloc setting reached the kernel
    # (os.environ) or the process it was forked from (/proc/self/environ: the exec-time block)
    "probe": {
        "square": "import os\nprint('forked by', os.getppid(), 'threads', os.environ.get("
        "'OMP_NUM_THREADS'), 'malloc', 'MALLOC_TRIM_THRESHOLD_' in os.environ, "
        "b'MALLOC_TRIM_THRESHOLD_' in open('/proc/self/environ', 'rb').read())\n"
        "def square(x):\n    return x * x"
    },
    # the command lines of the kernel's parent and grandparent (a cold kernel: the worker and
    # the process that started it), and a variable the test sets between batches
    "lineage": {
        "square": "import json, os\nparent = os.getppid()\n"
        "grand = int(open(f'/proc/{parent}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        "print(json.dumps({'grand': grand, 'batch': os.environ.get('CNN_TEST_BATCH'), 'cmd': ["
        "open(f'/proc/{p}/cmdline', 'rb').read().replace(bytes(1), b' ').decode()"
        " for p in (parent, grand)]}))\n"
        "def square(x):\n    return x * x"
    },
    # how often the kernel reused what its zygote learned (knowncells.py) before this cell
    "reused": {
        "square": "import json\nfrom autograder import knowncells\n"
        "print(json.dumps(knowncells.REUSED))\ndef square(x):\n    return x * x"
    },
}


def make_course(root: Path, edit=None) -> Path:
    """The tiny course in ``root``, released; ``edit(notebook)`` changes its source first."""
    root.mkdir(parents=True)
    shutil.copy2(course.NBGRADER_CONFIG, root / "nbgrader_config.py")
    shutil.copytree(TINY, root / "notebooks" / "tiny")
    if edit is not None:
        path = root / "notebooks" / "tiny" / "tiny.ipynb"
        nb = nbformat.read(path, as_version=4)
        edit(nb)
        nbformat.write(nb, path)
    run_nbgrader("generate_assignment", "tiny", "--force", cwd=root)
    return root


def submit(root: Path, student: str, kind: str) -> None:
    release = nbformat.read(root / "release" / "tiny" / "tiny.ipynb", as_version=4)
    source = nbformat.read(TINY / "tiny.ipynb", as_version=4)
    nb = release if kind == "blank" else fixtures.solved(release, source)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in WRONG.get(kind, {}):
            cell.source = WRONG[kind][grade_id]
    folder = root / "submitted" / student / "tiny"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "tiny.ipynb")


def cell_scores(root: Path) -> dict[tuple[str, str], float]:
    """(student, test cell) -> score, read through nbgrader's own Gradebook API."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {
            (sub.student.id, grade.name): grade.score
            for sub in gb.assignment_submissions("tiny")
            for nb in sub.notebooks
            for grade in nb.grades
        }


def cell_errors(root: Path, student: str) -> str:
    nb = nbformat.read(root / "autograded" / student / "tiny" / "tiny.ipynb", as_version=4)
    return "\n".join(
        o.get("evalue", "")
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.output_type == "error"
    )


def probed(root: Path, student: str) -> list[str]:
    """What the "probe" submission printed, split into words."""
    nb = nbformat.read(root / "autograded" / student / "tiny" / "tiny.ipynb", as_version=4)
    (text,) = {o.text for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout"}
    return text.split()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A released tiny course; tests copy it."""
    return make_course(tmp_path_factory.mktemp("tiny") / "course")


def copy_of(tiny: Path, tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(tiny, root)
    return root


@pytest.mark.slow
def test_are_scores_identical_to_plain_nbgrader(tiny, tmp_path):
    """A mixed set: correct, partly wrong, blank, erroring."""
    plain, fast = copy_of(tiny, tmp_path / "a"), copy_of(tiny, tmp_path / "b")
    for root in (plain, fast):
        for kind in ("correct", "partly", "blank", "erroring"):
            submit(root, kind, kind)
    run_nbgrader("autograde", "tiny", "--force", cwd=plain)
    results = grade(fast, "tiny", Options(workers=2), progress=False)
    assert all(r.success for r in results)
    expected = cell_scores(plain)
    assert len(expected) == 4 * 4
    assert cell_scores(fast) == expected
    totals = {
        s: sum(v for (st, _), v in expected.items() if st == s) for s in submissions(plain, "tiny")
    }
    assert totals == {"blank": 0, "correct": 5, "erroring": 2, "partly": 3}


@pytest.mark.slow
def test_do_a_local_clusters_workers_share_one_unsandboxed_zygote(tiny, tmp_path, monkeypatch):
    """--no-sandbox: one zygote, started by the grader, forks every kernel of both workers,
    with the environment Dask gives a worker (one thread per kernel) but its malloc setting,
    even when the grader has it (Dask's nanny leaves it in the process that ran a cluster);
    the zygote is gone afterwards, and the grader's environment is as it was."""
    import psutil

    root = copy_of(tiny, tmp_path)
    for i in range(6):
        submit(root, f"s{i}", "probe")
    opts = Options(workers=2, sandbox=False, hardened=False)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    environ = dict(os.environ)
    results = grade(root, "tiny", opts, progress=False)
    assert dict(os.environ) == environ  # the nannies set OMP_NUM_THREADS=1... here
    assert all(r.success for r in results) and len({r.worker for r in results}) == 2
    printed = {tuple(probed(root, r.student)) for r in results}
    assert len(printed) == 1, printed
    _, _, ppid, _, threads, _, *malloc = printed.pop()
    assert threads == "1" and malloc == ["False", "False"]
    assert not psutil.pid_exists(int(ppid)) or psutil.Process(int(ppid)).status() == "zombie"
    assert sum(v for v in cell_scores(root).values()) == 6 * 5


@pytest.mark.slow
def test_do_kernels_a_worker_starts_itself_go_without_dasks_malloc_setting(tiny, tmp_path):
    """Cold kernels inherit the worker's environment, which Dask's nanny gave
    MALLOC_TRIM_THRESHOLD_ (with it every tensor over 128 KiB is page-faulted in afresh:
    F.conv2d on a 300x451 image 8x slower). The worker's own zygotes inherit it alike."""
    root = copy_of(tiny, tmp_path)
    submit(root, "probe", "probe")
    opts = Options(workers=1, warm=False, sandbox=False, hardened=False)
    assert all(r.success for r in grade(root, "tiny", opts, progress=False))
    assert probed(root, "probe")[4:] == ["1", "malloc", "False", "False"]


@pytest.mark.slow
def test_are_local_workers_forked_from_a_server_of_the_batch(tiny, monkeypatch, tmp_path):
    """The workers are forked from a forkserver that imported nbgrader (not spawned, each
    importing it again); the server is stopped with the batch, so the next batch's workers
    start from the environment as it is then."""
    import multiprocessing.forkserver

    import psutil

    opts = Options(workers=1, warm=False, sandbox=False, hardened=False)
    for batch in ("first", "second"):
        monkeypatch.setenv("CNN_TEST_BATCH", batch)
        root = copy_of(tiny, tmp_path / batch)
        submit(root, "lineage", "lineage")
        assert all(r.success for r in grade(root, "tiny", opts, progress=False))
        nb = nbformat.read(root / "autograded" / "lineage" / "tiny" / "tiny.ipynb", 4)
        (text,) = {o.text for c in nb.cells for o in c.get("outputs", []) if "text" in o}
        seen = json.loads(text)
        server = seen["cmd"][1]
        assert "multiprocessing.forkserver" in server and "nbgrader.apps" in server, server
        assert seen["batch"] == batch
        assert multiprocessing.forkserver._forkserver._forkserver_pid is None
        assert not psutil.pid_exists(seen["grand"])


@pytest.mark.slow
def test_does_a_dead_kernel_cost_only_the_cells_it_did_not_reach(tiny, tmp_path):
    root = copy_of(tiny, tmp_path)
    submit(root, "dead", "dead")
    submit(root, "correct", "correct")
    results = grade(root, "tiny", Options(workers=1), progress=False)
    assert all(r.success for r in results)
    scores = cell_scores(root)
    assert scores[("dead", "test_add")] == 1 and scores[("dead", "test_add_hidden")] == 2
    assert scores[("dead", "test_square")] == 0 and scores[("dead", "test_square_hidden")] == 0
    assert sum(v for (s, _), v in scores.items() if s == "correct") == 5
    errors = cell_errors(root, "dead")
    assert M.KERNEL_DIED in errors and M.KERNEL_NOT_RUN in errors


@pytest.mark.slow
def test_are_the_memory_and_notebook_time_limits_enforced(tiny, tmp_path):
    root = copy_of(tiny, tmp_path)
    submit(root, "hog", "hog")
    submit(root, "slow", "slow")
    opts = Options(workers=1, memory_mb=300, notebook_timeout=10)
    start = time.monotonic()
    results = grade(root, "tiny", opts, progress=False)
    assert time.monotonic() - start < 90
    assert all(r.success for r in results)
    scores = cell_scores(root)
    for student in ("hog", "slow"):
        assert scores[(student, "test_add")] == 1 and scores[(student, "test_square")] == 0
    assert M.KERNEL_MEMORY.format(limit=300) in cell_errors(root, "hog")
    assert M.KERNEL_NOTEBOOK_TIMEOUT.format(seconds=10) in cell_errors(root, "slow")


@pytest.mark.slow
def test_does_a_killed_run_resume_to_the_same_gradebook_without_duplicates(tiny, tmp_path):
    students = [f"s{i:02d}" for i in range(8)]
    kinds = ["correct", "partly", "blank", "erroring"]
    reference, killed = copy_of(tiny, tmp_path / "ref"), copy_of(tiny, tmp_path / "killed")
    for root in (reference, killed):
        for i, student in enumerate(students):
            submit(root, student, kinds[i % len(kinds)])
    grade(reference, "tiny", Options(workers=1), progress=False)

    cmd = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        "tiny",
        "--root",
        str(killed),
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(
        cmd, env=nbgrader_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 180
    while sum(is_done(killed, "tiny", s) for s in students) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = sum(is_done(killed, "tiny", s) for s in students)
    assert 2 <= done_before < len(students), "kill the grader mid-batch"

    results = grade(killed, "tiny", Options(workers=1), progress=False)
    skipped = [r for r in results if r.error.startswith("skipped")]
    assert len(skipped) >= done_before
    assert all(marker_path(killed, "tiny", s).exists() for s in students)
    assert cell_scores(killed) == cell_scores(reference)
    db = sqlite3.connect(killed / "gradebook.db")
    assert db.execute("SELECT COUNT(*) FROM grade").fetchone()[0] == len(students) * 4
    assert db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone()[0] == len(students)
    db.close()


@pytest.mark.slow
def test_does_the_command_show_the_instructor_no_warnings(tiny, tmp_path):
    """What ``python -m autograder grade`` writes to stderr is its progress bar: no warning of
    a library (nbgrader's new submissions made SQLAlchemy 2 warn in every worker)."""
    root = copy_of(tiny, tmp_path)
    for kind in ("correct", "blank"):
        submit(root, kind, kind)
    cmd = [sys.executable, "-m", "autograder", "grade", "tiny", "--root", str(root)]
    out = subprocess.run(
        [*cmd, "--workers", "1"], env=nbgrader_env(), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "grading tiny" in out.stderr
    assert "Warning" not in out.stderr, out.stderr[-2000:]


PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"


@pytest.mark.slow
def test_does_no_figures_keep_the_scores_and_say_which_figure_was_not_drawn(tiny, tmp_path):
    root = copy_of(tiny, tmp_path)
    for kind in ("correct", "partly"):
        submit(root, kind, kind)
        path = root / "submitted" / kind / "tiny" / "tiny.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells.insert(1, nbformat.v4.new_code_cell(PLOT))  # a student's own figure
        nbformat.write(nb, path)
    results = grade(root, "tiny", Options(workers=1, figures=False), progress=False)
    assert all(r.success for r in results)
    scores = cell_scores(root)
    totals = {s: sum(v for (st, _), v in scores.items() if st == s) for s in ("correct", "partly")}
    assert totals == {"correct": 5, "partly": 3}
    graded = nbformat.read(root / "autograded" / "correct" / "tiny" / "tiny.ipynb", 4)
    (figure,) = graded.cells[1].outputs
    expected = M.FIGURE_NOT_DRAWN.format(detail="Figure size 640x480 with 1 Axes")
    assert figure["data"] == {"text/plain": expected}


def test_does_no_figures_refuse_cold_kernels(tmp_path):
    from autograder.grade import GradingError

    with pytest.raises(GradingError, match="--no-figures"):
        grade(tmp_path, "tiny", Options(warm=False, figures=False), progress=False)


def test_is_a_changed_submission_graded_again(tiny, tmp_path):
    root = copy_of(tiny, tmp_path)
    submit(root, "s", "correct")
    path = marker_path(root, "tiny", "s")
    path.parent.mkdir(parents=True)
    from autograder.grade import fingerprint

    path.write_text(json.dumps({"fingerprint": fingerprint(root, "tiny", "s")}))
    assert is_done(root, "tiny", "s")
    nb_path = root / "submitted" / "s" / "tiny" / "tiny.ipynb"
    nb_path.write_text(nb_path.read_text().replace("return a + b", "return a - b"))
    assert not is_done(root, "tiny", "s")


def test_does_grading_an_unreleased_assignment_say_what_to_run(tmp_path):
    from autograder.grade import GradingError

    root = tmp_path / "course"
    root.mkdir()
    shutil.copy2(course.NBGRADER_CONFIG, root / "nbgrader_config.py")
    with pytest.raises(GradingError, match="generate_assignment tiny"):
        grade(root, "tiny", Options(workers=1), progress=False)


def test_does_a_failed_gradebook_check_leave_no_zygote_behind(tmp_path):
    """The shared zygote starts importing before the gradebook is checked (they overlap): when
    the check fails, the zygote is stopped, not left running."""
    import psutil

    from autograder.grade import GradingError

    root = tmp_path / "course"
    (root / "submitted" / "s" / "tiny").mkdir(parents=True)
    shutil.copy2(course.NBGRADER_CONFIG, root / "nbgrader_config.py")
    nbformat.write(nbformat.v4.new_notebook(), root / "submitted" / "s" / "tiny" / "tiny.ipynb")
    with pytest.raises(GradingError, match="generate_assignment tiny"):
        grade(root, "tiny", Options(workers=1, sandbox=False), progress=False)
    left = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.is_running() and p.status() != "zombie" and "autograder.zygote" in p.cmdline()
    ]
    assert not left


def test_does_a_worker_freeze_its_imports_once():
    """After its first submission a worker moves what it imported out of the collector's reach
    (grade._freeze_imports), once: later objects stay collectable."""
    probe = """
import gc
from autograder import grade
assert gc.get_freeze_count() == 0
grade._freeze_imports()
frozen = gc.get_freeze_count()
garbage = [[] for _ in range(1000)]
grade._freeze_imports()
print(frozen > 10000, gc.get_freeze_count() == frozen)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


@pytest.mark.slow
def test_does_a_worker_freeze_its_imports_after_its_first_submission(tiny, tmp_path):
    """grade_one calls grade._freeze_imports: nothing is frozen before, much is after."""
    root = copy_of(tiny, tmp_path)
    submit(root, "correct", "correct")
    probe = f"""
import gc
from pathlib import Path
from autograder import grade
before = gc.get_freeze_count()
opts = grade.Options(workers=1, warm=False, sandbox=False, hardened=False)
result = grade.grade_one(Path({str(root)!r}), "tiny", "correct", opts)
print(result.success, before, gc.get_freeze_count() > 10000)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.split() == ["True", "0", "True"], out.stderr[-2000:]


@pytest.mark.slow
def test_is_a_notebook_validated_once_per_conversion(tiny, tmp_path):
    """nbconvert validates after every preprocessor unless told otherwise: the grader's two
    conversions of a submission (sanitize, autograde) validate once each."""
    root = copy_of(tiny, tmp_path)
    submit(root, "correct", "correct")
    probe = f"""
from pathlib import Path
from nbconvert.exporters.exporter import Exporter
from autograder import grade
calls = []
validate = Exporter._validate_preprocessor
Exporter._validate_preprocessor = lambda *args: calls.append(1) or validate(*args)
opts = grade.Options(workers=1, warm=False, sandbox=False, hardened=False)
result = grade.grade_one(Path({str(root)!r}), "tiny", "correct", opts)
print(result.success, len(calls))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.split() == ["True", "2"], out.stderr[-2000:]


def test_do_a_workers_gradebooks_share_one_engine_and_its_statement_cache(tmp_path):
    """nbgrader opens a Gradebook five times per submission: in a worker they share one
    SQLAlchemy engine per URL (so statements are compiled once), a Gradebook's close() leaves
    it usable for the next, and within a submission they share its connection and one check of
    the tables; after the submission no connection is left open and the next checks again."""
    probe = f"""
import sqlalchemy
from nbgrader.api import Gradebook
checks = []
create_all = sqlalchemy.MetaData.create_all
sqlalchemy.MetaData.create_all = lambda self, *a, **k: checks.append(1) or create_all(self, *a, **k)
from autograder import grade
grade._share_gradebook_engines()
grade._share_gradebook_engines()  # once: not wrapped twice
url = "sqlite:///{tmp_path}/gradebook.db"
with Gradebook(url) as first:
    first.add_assignment("ps1")
    engine = first.engine
    first.find_assignment("ps1")
    cached = len(engine._compiled_cache)
with Gradebook(url) as second:
    found = second.find_assignment("ps1").name
    print(second.engine is engine, found, len(engine._compiled_cache) == cached)
print(len(checks), engine.pool.checkedin())  # one check, one connection kept
grade._end_gradebook_session()
print(engine.pool.checkedin())  # closed
with Gradebook(url) as third:
    print(third.find_assignment("ps1").name, len(checks))  # connected and checked again
with Gradebook("sqlite:///{tmp_path}/other.db") as other:
    print(other.engine is not engine)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.split() == [
        *("True", "ps1", "True"),
        *("1", "1"),
        "0",
        *("ps1", "2"),
        "True",
    ], out.stderr[-2000:]


def test_does_the_grader_import_nbgrader_without_compiling_rfc3987s_grammar():
    """jsonschema's optional rfc3987_syntax (0.7 s at import) stays out; validation still works."""
    probe = """
import sys
import autograder.grade
import nbformat
from nbgrader.apps import NbGraderAPI
print(sys.modules.get("rfc3987_syntax") is None)
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
nbformat.validate(nb)
nb.cells[0]["execution_count"] = "one"
try:
    nbformat.validate(nb)
except nbformat.ValidationError:
    print("invalid rejected")
"""
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[:2] == ["True", "invalid rejected"]


def test_does_the_workers_forkserver_import_nbgrader_without_compiling_rfc3987s_grammar():
    """The forkserver imports the grader first, then nbgrader: its workers have not compiled
    the grammar either (in a fresh process: pytest's may have imported it)."""
    probe = """
import sys
from autograder import grade


def compiled():  # pickled by value: it runs in the worker
    return sys.modules.get("rfc3987_syntax") is not None


if __name__ == "__main__":
    undo = grade._forked_workers()
    client, cluster = grade._client(grade.Options(workers=1))
    try:
        print(list(client.run(compiled).values()))
    finally:
        client.close()
        cluster.close()
        undo()
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[-2] == "[False]", out.stdout


def test_do_a_local_clusters_workers_run_without_dasks_profiler():
    """The workers' statistical profiler (a stack sample every 10 ms, for the dashboard) is off
    in a local cluster, and the setting does not outlive the cluster's start."""
    import dask

    from autograder.grade import _client

    client, cluster = _client(Options(workers=1))
    try:
        enabled = client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
    finally:
        client.close()
        cluster.close()
    assert list(enabled.values()) == [False]
    assert dask.config.get("distributed.worker.profile.enabled") is True


def test_do_zygotes_learn_the_released_cells_and_the_tests_only_where_they_run(tiny):
    """Students' kernels learn what the students were given; the kernels that run the tests
    also learn the gradebook's test cells, hidden tests included; no kernel the solutions."""
    given = known_cells(tiny, "tiny", Options(), tests=False)
    runs = known_cells(tiny, "tiny", Options(), tests=True)
    assert "assert add(1, 2) == 3" in given and set(given) <= set(runs)
    assert not any("HIDDEN" in cell for cell in given)
    assert any("assert add(-1, 1) == 0" in cell for cell in runs)
    assert not any("return a + b" in cell or "return x * x" in cell for cell in runs)
    assert not _runs_tests(Options())  # the default: the trusted kernels run them
    assert _runs_tests(Options(hardened=False)) and _runs_tests(Options(sandbox=False))
    assert known_cells(tiny, "not-released", Options(), tests=True) == []


@pytest.mark.slow
@pytest.mark.parametrize("sandbox", [False, True], ids=["shared-zygote", "worker-zygote"])
def test_do_kernels_reuse_what_their_zygote_learned_of_the_test_cells(tiny, tmp_path, sandbox):
    """Unhardened, the student's kernel runs test_add and test_add_hidden before the square
    cell prints its count: both came preprocessed from the zygote, whichever started it."""
    root = copy_of(tiny, tmp_path)
    submit(root, "s", "reused")
    opts = Options(workers=1, sandbox=sandbox, hardened=False)
    (result,) = grade(root, "tiny", opts, progress=False)
    assert result.success
    reused = json.loads(" ".join(probed(root, "s")))
    assert set(reused) == {"transform_cell", "should_be_async", "murmur2_x86"}
    assert min(reused.values()) >= 2
    assert sum(v for v in cell_scores(root).values()) == 5
