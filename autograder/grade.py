"""Grade a whole class: every submission of an assignment, in parallel, resumably.

Each submission is graded by nbgrader itself (``NbGraderAPI.autograde``: the same sanitising,
cell restoring, execution and SaveAutoGrades as ``nbgrader autograde``), so results land in
the nbgrader gradebook and ``nbgrader export``, ``generate_feedback`` and the formgrader work
unchanged. What differs is around it:

* kernels come warm: forked from a zygote that has imported torch (see zygote.py);
* a dead kernel costs only the cells it did not reach (see execute.py), with per-cell and
  per-notebook time limits and a memory limit;
* submissions run in parallel on Dask workers: a local cluster by default, or an existing
  scheduler (``--scheduler tcp://host:8786``);
* three of nbgrader's steps do the same work in fewer round trips: OverwriteCells and
  SaveAutoGrades read the gradebook per notebook rather than per cell, SaveAutoGrades commits
  once (overwritecells.py, saveautogrades.py), and CheckCellMetadata checks its schema once
  (checkcellmetadata.py);
* a submission counts as done when its marker file records the fingerprint of what was graded,
  so a run that was killed resumes where it stopped, and a re-run grades only what changed.
  nbgrader's gradebook updates rows in place, so grading twice never duplicates records.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder import gradebook

MARKER = ".autograder-done.json"

# jsonschema (which nbformat and nbgrader import) imports rfc3987_syntax when it is installed
# (jupyter_events' jsonschema[format-nongpl] extra brings it), and that module compiles a Lark
# grammar at import: 0.7 s of CPU in the grader and again in every worker, for the "iri" string
# formats, which no notebook or gradebook schema uses. Marked as missing, jsonschema goes
# without those two format checks (nbformat validates no formats). Only if not imported yet.
sys.modules.setdefault("rfc3987_syntax", None)


@dataclass(frozen=True)
class Options:
    workers: int = 0  # 0: one per CPU core
    scheduler: str | None = None
    db_url: str | None = None
    cell_timeout: int | None = None  # None: nbgrader_config.py's Execute.timeout
    notebook_timeout: int = 900
    memory_mb: int = 4096
    warm: bool = True
    sandbox: bool = True  # kernels run in bubblewrap (sandbox.py); False: with the grader's rights
    cpu_seconds: int = 1800  # CPU time per kernel (sandboxed)
    max_processes: int = 256  # processes and threads per sandbox
    force: bool = False
    hardened: bool = True  # test cells judged in a trusted kernel (hardened.py)
    figures: bool = True  # False: students' kernels draw no matplotlib figures (warm kernels)


@dataclass
class Result:
    student: str
    success: bool
    seconds: float
    error: str = ""
    worker: str = ""  # host:pid of the process that graded it


# --- what is there to grade ---------------------------------------------------------------


def submissions(root: Path, assignment: str) -> list[str]:
    """Students with a submission folder for this assignment, sorted."""
    folder = root / "submitted"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / assignment).is_dir())


def fingerprint(root: Path, assignment: str, student: str) -> str:
    """A hash of every file the student submitted for the assignment."""
    base = root / "submitted" / student / assignment
    digest = hashlib.sha256()
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def marker_path(root: Path, assignment: str, student: str) -> Path:
    return root / "autograded" / student / assignment / MARKER


def is_done(root: Path, assignment: str, student: str) -> bool:
    path = marker_path(root, assignment, student)
    try:
        return json.loads(path.read_text())["fingerprint"] == fingerprint(root, assignment, student)
    except (OSError, ValueError, KeyError):
        return False


def db_url_for(root: Path, opts: Options) -> str:
    return opts.db_url or f"sqlite:///{(root / 'gradebook.db').resolve()}"


def known_cells(root: Path, assignment: str, opts: Options, tests: bool) -> list[str]:
    """The code cells every submission of ``assignment`` shares, for the zygotes to preprocess
    once (knowncells.py): the release notebooks' cells (what the students were given) and,
    with ``tests``, the gradebook's (the test cells as autograding runs them, hidden tests
    included: only for the kernels that run them). Never the source notebooks': the solutions
    stay out of the students' kernels. What cannot be read is left out: a cell not learned is
    only preprocessed by its kernel, as without this."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SQLAlchemyError
    from traitlets.config.loader import ConfigError, PyFileConfigLoader

    cells: dict[str, None] = {}  # in order, once each
    try:
        cfg = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
        release = root / cfg.CourseDirectory.get("release_directory", "release") / assignment
    except (OSError, ValueError, ConfigError):  # one that does not load: nbgrader says so
        release = root / "release" / assignment
    for path in sorted(release.glob("*.ipynb")):
        try:
            notebook = nbformat.read(path, as_version=4)
        except (OSError, ValueError):
            continue
        cells.update((c.source, None) for c in notebook.cells if c.cell_type == "code")
    if tests:
        try:
            with Gradebook(db_url_for(root, opts)) as gb:
                for notebook in gb.find_assignment(assignment).notebooks:
                    for cell in notebook.source_cells:
                        if cell.cell_type == "code":
                            cells[cell.source] = None
        except (MissingEntry, SQLAlchemyError):
            pass
    return list(cells)


# --- grading one submission (runs in a worker process) ---------------------------------------

_WARM = None
_TRUSTED = None  # the hardened grader's trusted kernels, when _WARM's are sandboxed
_APIS: dict = {}
_ENGINES: dict = {}  # this worker's SQLAlchemy engine per gradebook URL (_share_gradebook_engines)
_CHECKED: set = set()  # the engines whose tables this submission has checked
_FROZEN = False


def _nbgrader_config(root: Path, opts: Options, zygotes: dict[str, str]):
    """The nbgrader configuration of a worker; ``zygotes``: kernel name -> folder of the
    zygotes shared by the local grader's workers (see :func:`_api`)."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import CheckCellMetadata, Execute, OverwriteCells, SaveAutoGrades
    from traitlets.config.loader import PyFileConfigLoader

    from autograder.checkcellmetadata import CachedCheckCellMetadata
    from autograder.execute import ResilientExecute
    from autograder.hardened import HardenedExecute
    from autograder.overwritecells import PrefetchedOverwriteCells
    from autograder.sandbox import INSIDE
    from autograder.saveautogrades import BatchedSaveAutoGrades
    from autograder.warm import KERNEL_NAME, TRUSTED_KERNEL_NAME, ipc_prefix_in

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    cfg.CourseDirectory.root = str(root)
    cfg.CourseDirectory.db_url = db_url_for(root, opts)
    if opts.cell_timeout:
        cfg.Execute.timeout = opts.cell_timeout
    cfg.ResilientExecute.notebook_timeout = opts.notebook_timeout
    cfg.ResilientExecute.memory_limit_mb = opts.memory_mb
    cfg.ResilientExecute.draw_figures = opts.figures
    executor = HardenedExecute if opts.hardened else ResilientExecute
    if opts.hardened:
        source = cfg.CourseDirectory.get("source_directory", "source")
        cfg.HardenedExecute.source_root = str(root / source)
    swap = {
        Execute: executor,
        CheckCellMetadata: CachedCheckCellMetadata,
        OverwriteCells: PrefetchedOverwriteCells,
        SaveAutoGrades: BatchedSaveAutoGrades,
    }
    for stage in ("sanitize_preprocessors", "autograde_preprocessors"):
        default = Autograde.class_traits()[stage].default()
        cfg.Autograde[stage] = [swap.get(p, p) for p in default]
    # the notebook is validated once a conversion has run all its preprocessors, not after
    # each of them (nbconvert's default): 2 validations per submission rather than 12, ~1 ms
    # each for a chapter (ch06: 54 cells)
    cfg.Exporter.optimistic_validation = True
    # jupyter_client's manager and client without the fixed sleeps (kernelclient.py)
    cfg.NotebookClient.kernel_manager_class = "autograder.kernelclient.GradingKernelManager"
    if opts.warm:
        cfg.Execute.kernel_name = KERNEL_NAME
        # a forked kernel has nothing to save: killed at once, not asked to exit and waited for
        cfg.NotebookClient.shutdown_kernel = "immediate"
    if opts.warm and opts.sandbox and _WARM is not None:
        cfg.KernelManager.transport = "ipc"  # the sandbox has no network: Unix sockets in scratch
        cfg.KernelManager.ip = _WARM.ipc_prefix
        if opts.hardened:  # the trusted kernel: outside the sandbox, from a zygote of its own
            cfg.HardenedExecute.trusted_kernel_name = TRUSTED_KERNEL_NAME
            cfg.HardenedExecute.bridge_dir = str(_WARM.sandbox.scratch / "bridge")
            cfg.HardenedExecute.bridge_dir_inside = f"{INSIDE}/bridge"
    # an unsandboxed zygote's spare kernels (spares.py) serve kernels on Unix sockets in its folder
    students = zygotes.get(KERNEL_NAME) or (_WARM.folder if _WARM is not None else None)
    if opts.warm and not opts.sandbox and students:
        cfg.KernelManager.transport = "ipc"
        cfg.KernelManager.ip = ipc_prefix_in(students)
    trusted = zygotes.get(TRUSTED_KERNEL_NAME) or (_TRUSTED.folder if _TRUSTED else students)
    if opts.warm and opts.hardened and trusted:
        cfg.HardenedExecute.trusted_ip = ipc_prefix_in(trusted)
    return cfg


def _freeze_imports() -> None:
    """Once per worker process, after its first submission: what it has imported (nbgrader,
    SQLAlchemy, nbconvert...) is moved out of the garbage collector's reach, as the zygote
    does with torch.

    Measured: the worker's full collections no longer walk those objects (nbgrader's
    per-submission setup, mean over 15 submissions: 55 -> 31 ms), and a spawned worker
    (``dask worker``'s) exits at the end of a batch in 0.1 s rather than 0.6 s (its interpreter
    no longer collects them; a local cluster's workers, forked, end with os._exit anyway).
    """
    global _FROZEN
    if not _FROZEN:
        import gc

        gc.collect()  # the imports' garbage is freed, not kept for good
        gc.freeze()
        _FROZEN = True


def _share_gradebook_engines() -> None:
    """One SQLAlchemy engine per database URL in this worker process, for every nbgrader
    ``Gradebook``, whose connection and table check last the submission.

    nbgrader opens a Gradebook five times per submission (the converter, OverwriteCells,
    OverwriteKernelspec, SaveAutoGrades, the late-penalty step), and each made a new engine,
    so SQLAlchemy compiled every statement afresh each time: its compiled-statement cache
    belongs to the engine. Each open also checked every table (``create_all``) and each close
    disposed of the engine's pool, so the next open connected again: 6.8 ms per open and close
    of an SQLite gradebook here, 1.0 ms without. Within a submission the engine now keeps its
    connection and checks the tables once; :func:`_end_gradebook_session`, after each
    submission, closes the connection as nbgrader would and forgets the check, so a worker
    holds no connection between submissions (a PostgreSQL server counts them; an SQLite file
    replaced between batches is opened afresh).
    """
    import nbgrader.api

    if getattr(nbgrader.api.create_engine, "shared_per_url", False):
        return
    create_engine = nbgrader.api.create_engine
    metadata = nbgrader.api.Base.metadata
    create_all = metadata.create_all

    def shared_engine(url, **kwargs):
        key = (str(url), tuple(sorted(kwargs.items())))
        if key not in _ENGINES:
            engine = create_engine(url, **kwargs)
            engine.dispose = lambda *args, **kwargs: None  # Gradebook.close(): see above
            _ENGINES[key] = engine
        return _ENGINES[key]

    def create_all_once(bind=None, **kwargs):
        if bind is None or bind not in _CHECKED:
            create_all(bind=bind, **kwargs)
            if bind is not None:
                _CHECKED.add(bind)

    shared_engine.shared_per_url = True
    nbgrader.api.create_engine = shared_engine
    metadata.create_all = create_all_once


def _end_gradebook_session() -> None:
    """After a submission: what nbgrader's Gradebook.close() did (its engine's connections
    closed), and the tables are checked again by the next submission's first Gradebook."""
    from sqlalchemy.engine import Engine

    _CHECKED.clear()
    for engine in _ENGINES.values():
        with contextlib.suppress(Exception):  # grade_one never raises
            Engine.dispose(engine)


def _quiet_submission_cascade() -> None:
    """In this worker process, silence SQLAlchemy 2's warning about nbgrader's new submissions.

    ``Gradebook.add_submission`` builds a submission's notebooks and grades attached to objects
    already in the session, a cascade SQLAlchemy 2 no longer follows ("Object of type
    <SubmittedAssignment> not in session, add operation along 'Assignment.submissions' will not
    proceed"), then adds the submission itself, which saves them all. Three such warnings per
    worker reached the instructor's terminal, about nbgrader's code, not the submissions.
    """
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings(
        "ignore", message=r"Object of type <\w+> not in session", category=SAWarning
    )


def _api(root: Path, assignment: str, opts: Options, shared: dict[str, str] | None = None):
    """This worker's nbgrader API, with its warm kernels started on first use (they learn
    ``assignment``'s cells); ``shared``: kernel name -> kernelspec folder of zygotes the local
    grader started for all its workers."""
    global _WARM, _TRUSTED
    from multiprocessing.util import Finalize

    from nbgrader.apps import NbGraderAPI

    from autograder.nbgrader_tools import nbgrader_env
    from autograder.warm import (
        KERNEL_NAME,
        NOT_FOR_KERNELS,
        TRUSTED_KERNEL_NAME,
        WarmKernels,
        add_kernelspecs,
        wait_for_zygote,
    )

    os.environ.update({k: v for k, v in nbgrader_env().items() if k == "PATH"})
    for name in NOT_FOR_KERNELS:  # the zygotes and kernels this worker starts inherit its env
        os.environ.pop(name, None)
    shared = shared or {}
    # the worker's own zygotes live as long as the worker; at its exit their folders (the
    # kernelspec, the sandbox's scratch) are removed with them. multiprocessing's finalizers,
    # not atexit: a worker forked by the forkserver ends with os._exit after running them
    if opts.warm and _WARM is None and KERNEL_NAME not in shared:
        _WARM = WarmKernels(**_student_kernels(opts))
        Finalize(None, _WARM.stop, exitpriority=0)
        _WARM.launch(learn=True).learn(known_cells(root, assignment, opts, _runs_tests(opts)))
        _WARM.ready()
    trusted = opts.warm and opts.sandbox and opts.hardened
    if trusted and _TRUSTED is None and TRUSTED_KERNEL_NAME not in shared:
        _TRUSTED = WarmKernels(**_trusted_kernels(opts))
        Finalize(None, _TRUSTED.stop, exitpriority=0)
        _TRUSTED.launch(learn=True).learn(known_cells(root, assignment, opts, tests=True))
        _TRUSTED.ready()
    key = (str(root), opts)
    if key not in _APIS:
        _share_gradebook_engines()
        _quiet_submission_cascade()
        for folder in shared.values():  # the first submission: they may still be importing
            wait_for_zygote(folder)
            add_kernelspecs(folder)
        _APIS[key] = NbGraderAPI(config=_nbgrader_config(root, opts, shared))
    return _APIS[key]


def grade_one(
    root: Path, assignment: str, student: str, opts: Options, shared: dict[str, str] | None = None
) -> Result:
    """Autograde one submission with nbgrader and mark it done; never raises. ``shared``: see
    :func:`_api`."""
    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        api = _api(root, assignment, opts, shared)
        for attempt in range(3):
            if _WARM is not None:  # nothing left of the previous student; this one's files only
                _WARM.reset(root / "submitted" / student / assignment)
            outcome = api.autograde(assignment, student, force=True, create=True)
            text = f"{outcome.get('error', '')}{outcome.get('log', '')}"
            if outcome["success"] or "database is locked" not in text:
                break
            time.sleep(1 + attempt)  # another worker holds the SQLite write lock
        if _WARM is not None:
            _WARM.reset(None)  # the student's processes and files do not outlive the grading
        _freeze_imports()  # once: by now the worker has imported all that grading needs
    except Exception as error:  # one bad submission must not stop the batch
        return Result(student, False, time.perf_counter() - start, repr(error), worker)
    finally:
        _end_gradebook_session()
    seconds = time.perf_counter() - start
    if not outcome["success"]:
        return Result(
            student, False, seconds, outcome.get("error") or outcome.get("log", ""), worker
        )
    path = marker_path(root, assignment, student)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {
                "fingerprint": fingerprint(root, assignment, student),
                "seconds": seconds,
                "options": asdict(opts),
            }
        )
    )
    os.replace(tmp, path)  # atomic: a kill leaves either no marker or a complete one
    return Result(student, True, seconds, worker=worker)


# --- grading a class (the driver) ----------------------------------------------------------


class GradingError(RuntimeError):
    """The batch cannot start; the message says how to fix it."""


def _check_gradebook(root: Path, assignment: str, opts: Options) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    try:
        with Gradebook(db_url_for(root, opts)) as gb:
            gb.find_assignment(assignment)
    except MissingEntry:
        raise GradingError(
            f"{assignment} is not in the gradebook {db_url_for(root, opts)}: run"
            f" `nbgrader generate_assignment {assignment}` (or `python -m autograder release"
            f" {assignment}`) with the same database first."
        ) from None


def _check_sandbox(opts: Options) -> None:
    """Refuse to grade when the sandbox cannot be set up (unless opts.sandbox is False), or
    with options only warm kernels have."""
    from autograder import messages as M
    from autograder.sandbox import SandboxError, check

    if not opts.warm and not opts.figures:
        raise GradingError(M.FIGURES_COLD)
    if not opts.sandbox:
        return
    if not opts.warm:
        raise GradingError(M.SANDBOX_COLD)
    try:
        check()
    except SandboxError as error:
        raise GradingError(str(error)) from None


def _student_kernels(opts: Options) -> dict:
    """WarmKernels arguments of the students' kernels."""
    return {
        "memory_mb": opts.memory_mb,
        "sandbox": opts.sandbox,
        "cpu_seconds": opts.cpu_seconds if opts.sandbox else 0,
        "max_processes": opts.max_processes if opts.sandbox else 0,
        "figures": opts.figures,
        "spares": not opts.sandbox,
    }


def _runs_tests(opts: Options) -> bool:
    """Do the students' kernels run the test cells? Not when the hardened grader runs them in
    trusted kernels of their own (sandboxed students); unsandboxed, one zygote serves both."""
    return not (opts.hardened and opts.sandbox)


def _trusted_kernels(opts: Options) -> dict:
    """WarmKernels arguments of the hardened grader's trusted kernels (sandboxed students).

    They draw no figures: of the teaching cells they run for the tests (cellgraph.py) only the
    names count, their outputs are thrown away, and no test cell of the course draws one (a
    test's figure would show as the --no-figures line in the feedback)."""
    from autograder.warm import TRUSTED_KERNEL_NAME

    return {
        "memory_mb": opts.memory_mb,
        "sandbox": False,
        "name": TRUSTED_KERNEL_NAME,
        "figures": False,
        "spares": True,
    }


def _shared_zygotes(root: Path, assignment: str, opts: Options) -> list:
    """The unsandboxed zygotes a local cluster's workers can share, launched (not waited for):
    the students' kernels' with ``--no-sandbox``, the trusted kernels' in the hardened default.
    One zygote instead of one per worker, starting while the cluster does; it learns
    ``assignment``'s cells (read while it imports). A sandboxed zygote
    belongs to one worker (its own uid and scratch folder); a remote worker cannot reach the
    Unix socket, so with a scheduler every worker starts its own."""
    import dask

    from autograder.warm import WarmKernels

    if not opts.warm or opts.scheduler:
        return []
    # what Dask's nanny gives each worker process (OMP_NUM_THREADS=1...): a kernel forked here
    # runs as one forked by a worker's own zygote would (two kernels on two cores, one thread
    # each, rather than two threads each)
    env = {
        str(k): str(v) for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
    }
    if not opts.sandbox:
        arguments, tests = _student_kernels(opts), _runs_tests(opts)
    elif opts.hardened:
        arguments, tests = _trusted_kernels(opts), True
    else:
        return []
    zygote = WarmKernels(**arguments, env=env).launch(learn=True)
    return [zygote.learn(known_cells(root, assignment, opts, tests))]


#: What a local cluster's forkserver imports before forking the workers: what every worker
#: imports to grade (Dask, nbgrader and the grader's modules), imported once, not once per worker.
#: This module first: it keeps rfc3987_syntax out (see above) before nbgrader imports jsonschema.
WORKER_PRELOAD = (
    "autograder.grade",
    "distributed",
    "nbgrader.apps",
    "autograder.execute",
    "autograder.hardened",
    "autograder.kernelclient",
    "autograder.warm",
)


def _forked_workers():
    """Have a local cluster's nannies fork their workers from one server process that imported
    WORKER_PRELOAD, instead of starting each afresh (Dask's default, ``spawn``). Returns what
    undoes it, to call once the cluster is closed.

    Measured (2 workers): a spawned worker spends 1.2 s of CPU importing Dask and 0.6 s more
    importing nbgrader on its first submission, while the shared zygote imports torch on the
    same two cores; with the forkserver the zygote served 2.9 s after the start rather than
    3.5-4.0 s, and the cluster closed in 0.02 s rather than 0.3-0.5 s (a forked worker ends
    with os._exit after multiprocessing's finalizers: no interpreter teardown, and no atexit
    handlers, see _api). The server is this batch's: stopped at the end, so that the next
    batch's workers start from the environment as it is then. If this process runs a
    forkserver already (not ours), the workers spawn.
    """
    import multiprocessing.forkserver

    import dask
    from distributed.utils import get_mp_context

    server = multiprocessing.forkserver._forkserver
    if server._forkserver_pid is not None:
        return lambda: None
    setting = dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"})
    get_mp_context().set_forkserver_preload(list(WORKER_PRELOAD))  # after Dask sets its own

    def undo() -> None:
        setting.__exit__(None, None, None)
        if server._forkserver_pid is not None:
            # nothing in it to save (its workers are gone): killed, not asked to exit, which
            # tore its interpreter down (Dask, nbgrader) while the batch waited: 0.4 s
            with contextlib.suppress(ProcessLookupError):
                os.kill(server._forkserver_pid, signal.SIGKILL)
        server._stop()  # closes its "alive" pipe, reaps it, removes its socket

    return undo


def _client(opts: Options):
    import dask
    from dask.distributed import Client, LocalCluster

    if opts.scheduler:
        return Client(opts.scheduler, timeout="30s"), None
    workers = opts.workers or os.cpu_count() or 1
    # no statistical profiler in the workers (Dask samples each worker's stack every 10 ms for
    # its dashboard): ~0.6 s of CPU per batch of 40 ch06 submissions, on the kernels' cores
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        cluster = LocalCluster(
            host="127.0.0.1",  # the local cluster listens on loopback only
            scheduler_port=0,
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=0,  # kernels run in their own processes under their own limit
            dashboard_address="127.0.0.1:0",  # None still serves /metrics on 8787: busy if two run
            silence_logs=40,
        )
    return Client(cluster), cluster


def grade(root: Path, assignment: str, opts: Options = Options(), progress: bool = True):
    """Grade every submission of ``assignment`` under ``root/submitted``; return the results.

    Submissions graded before (same fingerprint) are skipped unless ``opts.force``.
    """
    from dask.distributed import as_completed
    from tqdm import tqdm

    root = root.resolve()
    environ = dict(os.environ)  # a local cluster's nannies set their workers' variables here too
    _check_sandbox(opts)
    students = submissions(root, assignment)
    todo = [s for s in students if opts.force or not is_done(root, assignment, s)]
    results: list[Result] = [
        Result(s, True, 0.0, "skipped: already graded") for s in students if s not in todo
    ]
    # the zygotes import torch while the gradebook is checked and the cluster starts
    zygotes = _shared_zygotes(root, assignment, opts) if todo else []
    client = cluster = None
    unfork = None
    stack = contextlib.ExitStack()
    try:
        _check_gradebook(root, assignment, opts)
        if not todo:
            return results
        if not opts.scheduler:  # WAL needs the workers on this machine
            stack.enter_context(gradebook.write_ahead_log(db_url_for(root, opts)))
        unfork = None if opts.scheduler else _forked_workers()
        client, cluster = _client(opts)  # workers wait for the zygotes before their first
        shared = {k.name: str(k.folder) for k in zygotes}
        futures = [
            client.submit(
                grade_one,
                root,
                assignment,
                s,
                opts,
                shared,
                key=f"grade-{assignment}-{s}-{i}",
                pure=False,
            )
            for i, s in enumerate(todo)
        ]
        for kernels in zygotes:  # its "ready" line, or the error if it did not start
            kernels.ready()
        with tqdm(
            total=len(todo), unit="notebook", desc=f"grading {assignment}", disable=not progress
        ) as bar:
            for future in as_completed(futures):
                result = future.result()
                results.append(result)
                bar.set_postfix_str(f"{result.student} {'ok' if result.success else 'FAILED'}")
                bar.update(1)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        if unfork is not None:
            unfork()
        for kernels in zygotes:
            kernels.stop()
        stack.close()  # the gradebook's journal mode, once its workers are gone
        _restore_environ(environ)
    return sorted(results, key=lambda r: r.student)


def _restore_environ(saved: dict[str, str]) -> None:
    """Put this process's environment back as it was: Dask's nanny sets its workers'
    variables (``distributed.nanny.pre-spawn-environ``: one thread, PYTHONHASHSEED, glibc's
    MALLOC_TRIM_THRESHOLD_) in the process that runs it, before spawning them, and leaves them
    set. Whatever the caller starts next (another batch's zygote, plain nbgrader's kernels)
    would inherit them."""
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    os.environ.update(saved)


def _cell_notes(submitted, notebook) -> list[str]:
    """Notes on the nbgrader cells of a submitted notebook, against the gradebook's record."""
    from nbgrader.utils import compute_checksum

    from autograder import messages as M

    known = {c.name: c for c in [*notebook.grade_cells, *notebook.solution_cells]}
    tests = {c.name: c for c in notebook.grade_cells if c.cell_type == "code"}
    solutions = {c.name for c in notebook.solution_cells}
    checksums = {  # a cell with hidden tests differs from its release by design: not checked
        c.name: c.checksum for c in notebook.source_cells if "HIDDEN TESTS" not in (c.source or "")
    }
    seen: list[str] = []
    changed, edited = set(), set()
    for cell in submitted.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if not grade_id:
            continue
        seen.append(str(grade_id))
        test = tests.get(grade_id)
        if test is None or grade_id in solutions:
            continue
        if meta.get("solution") or not meta.get("grade") or meta.get("points") != test.max_score:
            changed.add(grade_id)
        elif checksums.get(grade_id) and compute_checksum(cell) != checksums[grade_id]:
            edited.add(grade_id)
    found = [
        (M.NOTE_UNKNOWN_TEST, sorted({g for g in seen if g not in known})),
        (M.NOTE_DUPLICATE_CELLS, sorted({g for g in seen if seen.count(g) > 1})),
        (M.NOTE_MISSING_TESTS, sorted(set(tests) - set(seen))),
        (M.NOTE_CHANGED_TESTS, sorted(changed)),
        (M.NOTE_EDITED_TESTS, sorted(edited)),
    ]
    return [template.format(name=", ".join(ids)) for template, ids in found if ids]


def _notes(root: Path, assignment: str, result: Result, gb, opts: Options) -> list[str]:
    """What went wrong in one submission, in short, from its notebooks and Result.

    From the submitted notebook: missing or unreadable; test cells it claims that the assignment
    does not have, duplicated, missing, re-labelled or edited. From the autograded one: a dead
    kernel and why, an interrupted cell, a truncated output, a test cell the grader did not run.
    (Outputs of the student's own cells are the student's: a note can be faked, a score not.)
    """
    import warnings

    import nbformat
    from nbgrader.api import MissingEntry

    from autograder import messages as M

    def read(path: Path) -> nbformat.NotebookNode:
        with warnings.catch_warnings():  # an old or odd notebook is the student's, not an error
            warnings.simplefilter("ignore")
            return nbformat.read(path, as_version=4)

    try:
        notebooks = gb.find_assignment(assignment).notebooks
    except MissingEntry:
        return []
    died = {
        M.KERNEL_DIED: M.NOTE_KERNEL_DIED,
        M.KERNEL_MEMORY.format(limit=opts.memory_mb): M.NOTE_MEMORY.format(limit=opts.memory_mb),
        M.KERNEL_NOTEBOOK_TIMEOUT.format(seconds=opts.notebook_timeout): (
            M.NOTE_NOTEBOOK_TIMEOUT.format(seconds=opts.notebook_timeout)
        ),
    }
    truncated = M.OUTPUT_TRUNCATED.split("{")[0].strip()
    cell_timeout = M.KERNEL_CELL_TIMEOUT.split("{")[0]
    notes: list[str] = []
    for notebook in sorted(notebooks, key=lambda n: n.name):
        submitted = root / "submitted" / result.student / assignment / f"{notebook.name}.ipynb"
        try:
            sub = read(submitted)
        except FileNotFoundError:
            notes.append(M.NOTE_NOTEBOOK_MISSING.format(path=submitted.name))
            continue
        except Exception as error:
            detail = f"{type(error).__name__}: {str(error).strip()}".splitlines()[0][:80]
            notes.append(M.NOTE_NOTEBOOK_UNREADABLE.format(path=submitted.name, detail=detail))
            continue
        found = _cell_notes(sub, notebook)
        try:
            nb = read(root / "autograded" / result.student / assignment / submitted.name)
        except Exception:
            nb = nbformat.v4.new_notebook()
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                ename, evalue = out.get("ename", ""), out.get("evalue", "")
                if ename == "KernelDied" and evalue in died:
                    found.append(died[evalue])
                elif ename in ("KeyboardInterrupt", "CellTimeoutError") or (
                    ename == "KernelDied" and evalue.startswith(cell_timeout)
                ):
                    found.append(M.NOTE_INTERRUPTED)
                elif truncated in str(out.get("text", "")):
                    found.append(M.NOTE_OUTPUT_TRUNCATED)
        notes += [n for i, n in enumerate(found) if n not in found[:i]]
    if not result.success and not notes:
        lines = result.error.strip().splitlines() or ["unknown error"]
        notes.append(M.NOTE_GRADE_FAILED.format(detail=lines[-1][:80].rstrip(".")))
    return notes


def summary(root: Path, assignment: str, results: list[Result], opts: Options = Options()) -> str:
    """A table: student, score/max from the gradebook, seconds, status, and a note on what
    went wrong (a dead kernel, a limit, unknown or missing test cells, a missing notebook)."""
    from nbgrader.api import Gradebook, MissingEntry

    lines = [f"{'student':<24} {'score':>10} {'seconds':>8}  status"]
    with Gradebook(db_url_for(root.resolve(), opts)) as gb:
        for r in results:
            try:
                sub = gb.find_submission(assignment, r.student)
                score = f"{sub.score:g}/{sub.max_score:g}"
            except MissingEntry:
                score = "-"
            status = "ok" if r.success else "FAILED: " + r.error.strip().splitlines()[-1][:80]
            if r.error.startswith("skipped"):
                status = r.error
            notes = [] if r.error.startswith("skipped") else _notes(root, assignment, r, gb, opts)
            status = " ".join([status, *(f"| {n}" for n in notes)])
            lines.append(f"{r.student:<24} {score:>10} {r.seconds:>8.2f}  {status}")
    graded = [r for r in results if r.success and not r.error]
    failed = [r for r in results if not r.success]
    lines.append(
        f"{len(graded)} graded, {len(results) - len(graded) - len(failed)} skipped, "
        f"{len(failed)} failed"
    )
    return "\n".join(lines)
