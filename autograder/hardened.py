"""Tamper-proof verdicts: test cells run in a trusted kernel, never in the student's.

Plain nbgrader runs the tests in the student's kernel, where the student's code can redefine
``torch.allclose``, the check library, ``AssertionError`` or ``compile`` before the tests run.
This preprocessor (a drop-in for nbgrader's ``Execute``) executes the notebook in two kernels:

* the **student kernel** runs every cell except the test cells: the student's solutions, the
  teaching cells, anything the student added;
* the **trusted kernel** runs only the instructor's code, taken from the course *source*
  notebook, never from the submission: each test cell (by ``grade_id``), preceded by the source's
  teaching cells a test may need (cellgraph.py: imports, seeds, the helpers and data tests
  use; not those that only draw or print), in the source's order. A name it needs but did not
  define (``corr2d``, ``Conv2D``, a student variable) is fetched from the student kernel
  through the bridge (bridge.py): plain data by value, other objects as proxies whose every use
  is a request to the student kernel, which answers in a serve loop while the test cell runs.

The test cell's outputs come from the trusted kernel, so nbgrader's SaveAutoGrades scores what
the trusted kernel decided. The student's kernel only ever sends data.
"""

from __future__ import annotations

import copy
import hashlib
import shutil
import tempfile
from pathlib import Path

import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from traitlets import Bool, Float, Unicode

from autograder import messages as M
from autograder.cellgraph import needed_cells
from autograder.execute import ResilientExecute, _error

BRIDGE_SOCKET = "bridge.sock"
START_ATTEMPTS = 2  #: tries to start a trusted kernel before its test is failed
#: Starts a notebook may try in all: a start that hangs costs ``startup_timeout`` each time,
#: and without a bound every later test of the notebook would try twice again.
STARTS_PER_NOTEBOOK = 4
SERVE_GRACE = 2.0  #: seconds the student's serve loop may run on after a trusted cell ended

_BOOT = """
import sys as _sys
import os as _os
_sys.path[:] = [p for p in _sys.path if p not in ("", ".", _os.getcwd())]
from autograder import bridge as _cnn_bridge
_cnn_bridge.GRADER = _cnn_bridge.Grader({path!r}, get_ipython().user_ns, timeout={timeout!r})

def _cnn_pre_run_cell(info, _g=_cnn_bridge.GRADER, _ip=get_ipython()):
    if _g.begin(_g.accept_timeout):
        _g.resolve(_ip.transform_cell(info.raw_cell))

def _cnn_post_run_cell(result, _g=_cnn_bridge.GRADER):
    _g.end()
    _plt.close("all")

import matplotlib.pyplot as _plt
_plt.switch_backend("agg")  # the trusted kernel's figures are never shown: do not render them
_plt.show = lambda *args, **kwargs: None

get_ipython().events.register("pre_run_cell", _cnn_pre_run_cell)
get_ipython().events.register("post_run_cell", _cnn_post_run_cell)
del _cnn_pre_run_cell, _cnn_post_run_cell
"""

_SERVE = "__import__('autograder.bridge', fromlist=['serve']).serve({path!r})"


def is_test_cell(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_solution_cell(cell: NotebookNode) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


_NEEDED: dict[str, set[int]] = {}


def needed_teaching(plan: list[NotebookNode]) -> set[int]:
    """Positions in ``plan`` (the source's code cells) of the teaching cells a test may need
    (cellgraph.py); worked out once per content of the cells (a source edited during a run of
    the grader is read afresh, whatever its file's time stamp says)."""
    runs = [i for i, c in enumerate(plan) if not is_solution_cell(c)]
    tests = [is_test_cell(plan[i]) for i in runs]
    digest = hashlib.sha256()
    for i, test in zip(runs, tests):
        digest.update(f"{i}:{int(test)}:{len(plan[i].source)}:".encode() + plan[i].source.encode())
    key = digest.hexdigest()
    if key not in _NEEDED:
        needed = needed_cells([plan[i].source for i in runs], tests)
        _NEEDED[key] = {runs[j] for j in needed}
    return _NEEDED[key]


_PLANS: dict[str, list[NotebookNode]] = {}


def source_plan(path: Path) -> list[NotebookNode]:
    """The code cells of the source notebook at ``path``, parsed once per content of the file.

    The file is read for every submission (an edit during a run counts at once); nbformat's
    parse and validation run only for content not seen before. The cells are shared: callers
    run deep copies of them.
    """
    data = path.read_bytes()
    key = hashlib.sha256(data).hexdigest()
    if key not in _PLANS:
        source = nbformat.reads(data.decode("utf-8"), as_version=4)
        _PLANS[key] = [c for c in source.cells if c.cell_type == "code"]
    return _PLANS[key]


class HardenedExecute(ResilientExecute):
    """nbgrader's Execute with test cells judged in a second, trusted kernel."""

    source_root = Unicode(
        "", help="The course's source folder (notebooks/): test cells are taken from there."
    ).tag(config=True)
    trusted_kernel_name = Unicode(
        "", help="Kernel for the trusted side; empty: the same kernel name as the student's."
    ).tag(config=True)
    trusted_ip = Unicode(
        "",
        help="The trusted kernel's sockets: Unix sockets at this path prefix (a zygote's spare"
        " kernels serve those, spares.py); empty: jupyter_client's default transport.",
    ).tag(config=True)
    all_teaching_cells = Bool(
        False,
        help="Run every teaching cell in the trusted kernel; False: only those a test may need"
        " (cellgraph.py).",
    ).tag(config=True)
    bridge_dir = Unicode(
        "",
        help="Folder for the bridge's socket, reachable by the student kernel; empty: a new one.",
    ).tag(config=True)
    bridge_dir_inside = Unicode(
        "", help="The same folder as the student kernel sees it; empty: the same path."
    ).tag(config=True)
    accept_timeout = Float(
        20.0, help="Seconds the trusted kernel waits for the student kernel to connect."
    ).tag(config=True)

    # --- the notebook -----------------------------------------------------------------------

    def preprocess(self, nb, resources=None, km=None):
        self._trusted: NotebookClient | None = None
        self._plan = self._source_plan(resources or {})
        everything = set(range(len(self._plan)))
        self._needed = everything if self.all_teaching_cells else needed_teaching(self._plan)
        self._done_teaching = 0
        self._bridge_broken = False
        self._starts_left = STARTS_PER_NOTEBOOK
        self._not_started = ""  # why the last start failed
        self._tmp = None
        self._private = tempfile.mkdtemp(prefix="cnn-trusted-")
        if self.bridge_dir:
            self._outside = Path(self.bridge_dir)
            self._inside = Path(self.bridge_dir_inside or self.bridge_dir)
        else:
            self._tmp = tempfile.mkdtemp(prefix="cnnb-")
            self._outside = self._inside = Path(self._tmp)
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self._stop_trusted()
            for folder in (self._tmp, self._private):
                if folder:
                    shutil.rmtree(folder, ignore_errors=True)

    def _source_plan(self, resources: dict) -> list[NotebookNode]:
        info = resources.get("nbgrader", {})
        path = (
            Path(self.source_root)
            / str(info.get("assignment", ""))
            / (str(info.get("notebook", "")) + ".ipynb")
        )
        if not self.source_root or not path.is_file():
            raise RuntimeError(M.HARDENED_NO_SOURCE.format(path=path))
        return source_plan(path)

    def preprocess_cell(self, cell, resources, index):
        if not is_test_cell(cell):
            return super().preprocess_cell(cell, resources, index)
        if self._dead_reason is not None:
            cell.outputs = [_error("KernelDied", M.KERNEL_NOT_RUN)]
            return cell, self.resources
        grade_id = cell.metadata.nbgrader.get("grade_id")
        position = next(
            (
                i
                for i, c in enumerate(self._plan)
                if is_test_cell(c) and c.metadata.nbgrader.get("grade_id") == grade_id
            ),
            None,
        )
        if position is None:
            cell.outputs = [
                _error("UnknownTest", M.HARDENED_UNKNOWN_TEST.format(grade_id=grade_id))
            ]
            return cell, self.resources
        if self._trusted is None:
            why = self._start_trusted_kernel()
            if why is not None:
                cell.outputs = [_error("GraderError", why)]
                return cell, self.resources
        for i in range(self._done_teaching, position):
            teaching = self._plan[i]
            if not is_test_cell(teaching) and not is_solution_cell(teaching) and i in self._needed:
                self._run_trusted(copy.deepcopy(teaching), index)
        self._done_teaching = max(self._done_teaching, position + 1)
        judged = self._run_trusted(copy.deepcopy(self._plan[position]), index)
        cell.outputs = (
            judged.outputs
            if judged is not None
            else [_error("GraderError", M.HARDENED_TRUSTED_FAILED)]
        )
        cell.execution_count = None
        return cell, self.resources

    # --- the trusted kernel -----------------------------------------------------------------

    def _start_trusted_kernel(self) -> str | None:
        """Start a trusted kernel (a second try if the first fails); if neither did, the
        message its test fails with.

        A new kernel knows none of the teaching cells an earlier one ran (one that died, or
        the one the start failed to make): the next test replays them from the first. Once
        the notebook has used its STARTS_PER_NOTEBOOK, none is tried: the message gives the
        last failed start's reason, if one failed.
        """
        self._done_teaching = 0
        for _attempt in range(min(START_ATTEMPTS, self._starts_left)):
            self._starts_left -= 1
            try:
                self._start_trusted()
                return None
            except Exception as error:
                self._not_started = f"{type(error).__name__}: {error}"
                self.log.error("trusted kernel: %s", self._not_started)
                self._stop_trusted()
        if self._not_started:
            return M.HARDENED_TRUSTED_NOT_STARTED.format(error=self._not_started)
        return M.HARDENED_TRUSTED_NO_MORE_STARTS.format(count=STARTS_PER_NOTEBOOK)

    def _start_trusted(self) -> None:
        """Start ``self._trusted``: a kernel with the bridge listening (on failure it raises,
        leaving the half-started client in ``self._trusted`` for :meth:`_stop_trusted`)."""
        client = NotebookClient(
            nbformat.v4.new_notebook(),
            kernel_name=self.trusted_kernel_name or self.kernel_name,
            timeout=self.timeout,
            allow_errors=True,
            startup_timeout=self.startup_timeout,
            kernel_manager_class=self.kernel_manager_class,
            extra_arguments=list(self.extra_arguments),
        )
        client.km = client.create_kernel_manager()
        if self.trusted_ip:
            client.km.transport, client.km.ip = "ipc", self.trusted_ip
        self._trusted = client
        client.start_new_kernel(cwd=self._private)  # never the student's folder: no planted modules
        client.start_new_kernel_client()
        op_timeout = max(1.0, 0.9 * self.timeout) if self.timeout else 600.0
        boot = _BOOT.format(path=str(self._outside / BRIDGE_SOCKET), timeout=op_timeout)
        reply = client.wait_for_reply(client.kc.execute(boot, silent=True, store_history=False))
        if reply is None or reply["content"]["status"] != "ok":
            raise RuntimeError("the trusted kernel did not start the bridge")
        self._set_accept_timeout(client, self.accept_timeout)

    def _set_accept_timeout(self, client: NotebookClient, seconds: float) -> None:
        code = f"_cnn_bridge.GRADER.accept_timeout = {seconds!r}"
        client.wait_for_reply(client.kc.execute(code, silent=True, store_history=False))

    def _stop_trusted(self) -> None:
        client, self._trusted = self._trusted, None
        if client is None:
            return
        try:
            if client.kc is not None:
                client.kc.stop_channels()
            run_sync(client.km.shutdown_kernel)(now=True)
        except Exception as error:  # the kernel is gone either way
            self.log.warning("trusted kernel shutdown: %s", error)

    def _run_trusted(self, cell: NotebookNode, index: int) -> NotebookNode | None:
        """Run one instructor cell in the trusted kernel while the student kernel serves it;
        None if there is no trusted kernel (it died in an earlier cell of this test's)."""
        if self._trusted is None:
            return None
        cell.outputs = []
        serving = None
        if self._dead_reason is None and not self._bridge_broken:
            serving = self.kc.execute(
                _SERVE.format(path=str(self._inside / BRIDGE_SOCKET)),
                silent=True,
                store_history=False,
                allow_stdin=False,
            )
        try:
            self._trusted.nb.cells.append(cell)
            position = len(self._trusted.nb.cells) - 1
            self._trusted.execute_cell(cell, position, store_history=False)
        except (DeadKernelError, CellTimeoutError):
            self._stop_trusted()
            cell.outputs = [_error("GraderError", M.HARDENED_TRUSTED_FAILED)]
        if serving is not None:
            self._finish_serving(serving)
        return cell

    def _finish_serving(self, msg_id: str) -> None:
        """Wait for the student kernel's serve loop to end, interrupting it if it goes on.

        The trusted cell has ended and closed the connection, so the loop returns at once
        unless the student's code is still running for a request (one that timed out): its
        answer is no longer wanted, so after SERVE_GRACE seconds it is interrupted, as plain
        nbgrader interrupts a cell that times out. The student's kernel then serves the next
        test. Only a kernel that does not answer even then (or died) serves no more tests.
        """
        reply = None
        for wait in (SERVE_GRACE, 10.0):
            try:
                reply = self._wait(msg_id, wait)
                break
            except TimeoutError:
                if wait == SERVE_GRACE:
                    run_sync(self.km.interrupt_kernel)()
            except DeadKernelError:
                break
        if reply is None:
            self._bridge_broken = True
            if self._trusted is not None:
                self._set_accept_timeout(self._trusted, 0.5)

    def _wait(self, msg_id: str, timeout: float) -> dict:
        saved = self.timeout
        self.timeout = int(timeout)
        try:
            reply = self.wait_for_reply(msg_id)
        finally:
            self.timeout = saved
        if reply is None:
            raise TimeoutError(msg_id)
        return reply
