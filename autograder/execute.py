"""nbgrader's Execute preprocessor, made to survive a dead kernel and to stop at a deadline.

Plain nbgrader loses the whole notebook when its kernel dies (``os._exit``, a segfault, the
memory limit): the submission gets no grades at all. Here the cells that ran keep their results;
the cell that was running and every later code cell get an error output saying why, so nbgrader's
own SaveAutoGrades gives them zero. A notebook-wide time limit kills the kernel the same way.
A cell's output is capped (``output_limit_bytes``): a student printing gigabytes costs the grader
a notice, not its memory.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from autograder import messages as M

#: How IPython shows a figure when no image format is enabled (matplotlib's Figure repr).
FIGURE_REPR = re.compile(r"<(Figure size \d+x\d+ with \d+ Axes)>")
MEMORY_KILLED = 137  # the warm-kernel launcher's exit status when it enforced the memory limit


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


def _size(content: dict) -> int:
    """Roughly how many bytes an output message's content holds."""
    if "text" in content:
        return len(content["text"])
    data = content.get("data", {})
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())


class ResilientExecute(Execute):
    """Execute that turns a dead kernel into zero for the cells it did not reach."""

    notebook_timeout = Integer(
        900, help="Seconds one notebook may run in all before its kernel is killed."
    ).tag(config=True)
    memory_limit_mb = Integer(
        0, help="The kernel's memory limit, for the message (the launcher enforces it)."
    ).tag(config=True)
    output_limit_bytes = Integer(
        1 << 20, help="Bytes of output one cell may keep; the rest is replaced by a notice."
    ).tag(config=True)
    draw_figures = Bool(
        True,
        help="False: the kernel draws no figures (the warm kernels' --no-figures); each shows"
        " as a line saying so.",
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._dead_reason: str | None = None
        self._timed_out = False
        self._output_bytes: dict[int, int] = {}
        timer = threading.Timer(self.notebook_timeout, self._kill_for_time)
        timer.daemon = True
        timer.start()
        try:
            return super().preprocess(nb, resources, km)
        finally:
            timer.cancel()

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most ``output_limit_bytes`` of a cell's output: a flood must not fill memory.

        Errors are always kept (they decide the grade), cut to the same size.
        """
        limit = self.output_limit_bytes
        if msg["msg_type"] == "error":
            out = super().output(outs, msg, display_id, cell_index)
            if out is not None:
                out.evalue = out.get("evalue", "")[:limit]
                out.traceback = [line[:limit] for line in out.get("traceback", [])[:100]]
            return out
        if not self.draw_figures:
            self._name_undrawn_figure(msg["content"])
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + _size(msg["content"])
        if used + _size(msg["content"]) <= limit:
            return super().output(outs, msg, display_id, cell_index)
        if used <= limit:  # the first output over the limit: say so, once
            notice = NotebookNode(
                output_type="stream",
                name="stderr",
                text=f"\n{M.OUTPUT_TRUNCATED.format(limit=limit)}\n",
            )
            outs.append(notice)
            return notice
        return None

    def _name_undrawn_figure(self, content: dict) -> None:
        """A figure the kernel did not draw says so, rather than only ``<Figure size ...>``."""
        data = content.get("data")
        if isinstance(data, dict) and set(data) == {"text/plain"}:
            match = FIGURE_REPR.fullmatch(str(data["text/plain"]))
            if match:
                data["text/plain"] = M.FIGURE_NOT_DRAWN.format(detail=match.group(1))

    def _kill_for_time(self) -> None:
        self._timed_out = True
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)

    def _why_dead(self) -> str:
        if self._timed_out:
            return M.KERNEL_NOTEBOOK_TIMEOUT.format(seconds=self.notebook_timeout)
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None and process.poll() == MEMORY_KILLED:
            return M.KERNEL_MEMORY.format(limit=self.memory_limit_mb)
        return M.KERNEL_DIED

    def preprocess_cell(self, cell, resources, index):
        if self._dead_reason is not None:
            if cell.cell_type == "code":
                cell.outputs = [_error("KernelDied", M.KERNEL_NOT_RUN)]
            return cell, self.resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._dead_reason = self._why_dead()
            cell.outputs.append(_error("KernelDied", self._dead_reason))
            return cell, self.resources
        except CellTimeoutError:  # it ignored the interrupt (e.g. catches KeyboardInterrupt)
            self._kill_kernel()
            self._dead_reason = M.KERNEL_CELL_TIMEOUT.format(seconds=self.timeout)
            cell.outputs.append(_error("KernelDied", self._dead_reason))
            return cell, self.resources

    def _kill_kernel(self) -> None:
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)  # the launcher takes its kernel with it
