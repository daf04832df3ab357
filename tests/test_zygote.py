"""Does a kernel forked from the zygote behave like a freshly started ipykernel?"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.kernelclient import GradingKernelManager
from autograder.warm import KERNEL_NAME, WarmKernels
from autograder.warmkernel import MEMORY_EVERY, _exit_watch, alive, exact_reading_due

PROBE = """\
import gc, os, random, sys
import numpy, torch
print(torch.initial_seed(), random.random(), numpy.random.rand())
print(os.getcwd(), os.environ.get("CNN_PROBE"))
print(get_ipython().history_manager.hist_file, "leftover" in dir())
print(gc.isenabled())
leftover = 1
"""


@pytest.fixture(scope="module")
def warm():
    # unsandboxed: nbclient's default tcp connection (the sandboxed zygote asks for ipc sockets
    # in its scratch folder; tests/test_sandbox.py starts kernels that way)
    kernels = WarmKernels(sandbox=False).start()
    yield kernels
    kernels.stop()


def execute(folder, *sources: str) -> list:
    """The cells of a notebook of ``sources``, executed in a forked kernel in ``folder``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        kernel_manager_class="autograder.kernelclient.GradingKernelManager",
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return nb.cells


def run(folder, monkeypatch, probe: str = PROBE) -> tuple[list[str], dict]:
    """Run ``probe`` then ``1 / 0`` in a forked kernel: the probe's printed lines, the error."""
    monkeypatch.setenv("CNN_PROBE", folder.name)
    cells = execute(folder, probe, "1 / 0")
    return cells[0].outputs[0]["text"].splitlines(), cells[1].outputs[0]


def test_does_each_forked_kernel_start_fresh(warm, tmp_path, monkeypatch):
    """New RNG seeds (torch too), the request's cwd and env, no history file, empty namespace,
    the garbage collector on (the zygote imports with it off)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, error = run(tmp_path / "a", monkeypatch)
    second, _ = run(tmp_path / "b", monkeypatch)
    assert all(a != b for a, b in zip(first[0].split(), second[0].split()))  # torch too
    assert first[1] == f"{os.path.realpath(tmp_path / 'a')} a"
    assert second[1] == f"{os.path.realpath(tmp_path / 'b')} b"
    assert first[2] == second[2] == ":memory: False"
    assert first[3] == second[3] == "True"
    assert error["ename"] == "ZeroDivisionError"  # tracebacks work in a forked kernel


PLOT = """\
import matplotlib.pyplot as plt
fig, axes = plt.subplots(1, 2, figsize=(4, 2))
axes[0].imshow([[0, 1], [1, 0]])
plt.show()
"""


def plot_outputs(kernels: WarmKernels, folder, magic: str = "") -> list[dict]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(magic + PLOT)])
    NotebookClient(
        nb, kernel_name=kernels.name, resources={"metadata": {"path": str(folder)}}
    ).execute()
    return nb.cells[0].outputs


def test_does_a_warm_kernel_draw_figures_as_a_fresh_kernel_does(warm, tmp_path):
    (output,) = plot_outputs(warm, tmp_path)
    assert output["data"]["image/png"]  # the inline backend, as in JupyterLab


def test_does_no_figures_leave_figures_undrawn_even_after_matplotlib_inline(tmp_path):
    kernels = WarmKernels(sandbox=False, figures=False, name="cnn-warm-nofig").start()
    try:
        plain = plot_outputs(kernels, tmp_path)
        magic = plot_outputs(kernels, tmp_path, "%matplotlib inline\n")
    finally:
        kernels.stop()
    for (output,) in (plain, magic):
        assert output["data"] == {"text/plain": "<Figure size 400x200 with 2 Axes>"}


WIDGETS = """\
from tqdm.auto import tqdm
import ipywidgets
targets = sorted(get_ipython().kernel.comm_manager.targets)
print(tqdm.__mro__[1].__module__, targets, ipywidgets.widgets.widget.JUPYTER_WIDGETS_ECHO)
"""


def test_is_a_preloaded_ipywidgets_registered_with_the_kernel_as_when_imported(
    warm, tmp_path, monkeypatch
):
    """tqdm.notebook (so ipywidgets) is imported in the zygote, where there is no kernel: a
    forked kernel has the widgets' comm targets and reads JUPYTER_WIDGETS_ECHO as a fresh
    kernel that imports them does."""
    monkeypatch.setenv("JUPYTER_WIDGETS_ECHO", "0")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(WIDGETS)])
    printed = []
    for kernel_name in (KERNEL_NAME, "python3"):
        NotebookClient(
            nb, kernel_name=kernel_name, resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
        printed.append(nb.cells[0].outputs[0]["text"])
    assert printed[0] == printed[1]
    assert printed[0].startswith("tqdm.notebook") and "'jupyter.widget'" in printed[0]
    assert printed[0].split()[-1] == "False"


def _gone(pid: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


WARMED = """\
import inspect
print(sum(name in inspect._filesbymodname for name in ("torch", "torch.nn", "matplotlib")))
"""


def test_does_a_forked_kernel_inherit_the_caches_of_a_first_traceback(warm, tmp_path, monkeypatch):
    """The zygote formatted a traceback, so a kernel's first error finds the loaded modules
    already mapped to their files (inspect's cache; matplotlib, imported after torch, was not
    before); the traceback is still the kernel's own, coloured as a fresh kernel's."""
    printed, error = run(tmp_path, monkeypatch, probe=WARMED)
    assert printed == ["3"]  # before any error in this kernel
    text = "\n".join(error["traceback"])
    assert error["ename"] == "ZeroDivisionError" and "\x1b[" in text  # coloured, as usual
    assert "1 / 0" in re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_does_a_forked_kernel_keep_plain_tracebacks_in_its_history(warm, tmp_path):
    """IPython 9 formats an error for the cell's output and again for the history; a forked
    kernel's history keeps the standard library's text (tracebacks.plain_history), the output
    IPython's coloured traceback. inspect finds the cells in __main__ (tracebacks.cells_in_main).
    """
    history = "h = get_ipython().history_manager.exceptions\nprint(repr(h[max(h)]['traceback'][0]))"
    main = (
        "import inspect, sys\nprint(inspect.getmodule(sys._getframe()) is sys.modules['__main__'])"
    )
    cells = execute(tmp_path, "1 / 0", history, main)
    assert "\x1b[" in "\n".join(cells[0].outputs[0]["traceback"])
    assert cells[1].outputs[0]["text"].strip() == repr("Traceback (most recent call last):\n")
    assert cells[2].outputs[0]["text"].strip() == "True"


def test_does_every_cell_keep_all_its_output_without_the_sleep_before_each_reply(warm, tmp_path):
    """A forked kernel does not sleep before its execute_reply (ipykernel's mitigation for
    output lost on some clients): nbclient still gets every cell's output, in order, also the
    last lines written just before a cell ends and output written from a thread."""
    many = [f"print({i})\nimport sys\nsys.stdout.write('end {i}')" for i in range(40)]
    thread = "import threading\nt = threading.Thread(target=print, args=('thread',))\n"
    thread += "t.start()\nt.join()"
    cells = execute(tmp_path, "print(get_ipython().kernel._execute_sleep)", *many, thread)
    assert cells[0].outputs[0]["text"] == "0.0\n"
    texts = ["".join(o.get("text", "") for o in c.outputs) for c in cells[1:]]
    assert texts == [f"{i}\nend {i}" for i in range(40)] + ["thread\n"]


def test_does_an_immediate_shutdown_leave_no_kernel_behind(warm):
    """The grader kills a forked kernel's launcher rather than asking the kernel to exit: is the
    kernel itself gone too (it watches its connection to the launcher)?"""
    printed = []

    def keep(msg):
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])

    async def run_and_kill() -> int:
        km = GradingKernelManager(kernel_name=warm.name)
        await km.start_kernel()
        client = km.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            code = "import os; print(os.getpid())"
            await client.execute_interactive(code, timeout=60, output_hook=keep)
        finally:
            client.stop_channels()
        launcher = km.provisioner.process.pid
        assert alive(int("".join(printed))) and int("".join(printed)) != launcher
        await km.shutdown_kernel(now=True)
        return launcher

    launcher = asyncio.run(run_and_kill())
    assert not alive(launcher)
    assert _gone(int("".join(printed))), "the forked kernel outlived its launcher"


def test_is_private_memory_read_only_when_the_resident_memory_could_exceed_the_limit():
    """smaps_rollup costs ~10 ms a reading: none while the resident memory (which includes every
    private page) is within the limit; past it, every MEMORY_EVERY polls, or at once after a
    growth past the limit; never without a limit."""
    start, limit = 900.0, 4096.0
    assert not any(exact_reading_due(2000.0, start, limit, polls) for polls in range(50))
    assert not exact_reading_due(limit, start, limit, 0)
    due = [p for p in range(50) if exact_reading_due(limit + 1, start, limit, p)]
    assert due == list(range(0, 50, MEMORY_EVERY))
    assert exact_reading_due(start + limit + 1, start, limit, 1)  # grew past it: at once
    assert not exact_reading_due(10_000.0, start, 0.0, 0)


def test_does_the_launcher_wake_when_its_kernel_exits_not_at_its_next_poll():
    """The launcher sleeps on a pidfd: does the wait end when the process exits?"""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    wait = _exit_watch(child.pid)
    start = time.monotonic()
    wait(60)  # returns when the child exits, not after a minute
    assert time.monotonic() - start < 30
    child.wait()


def test_does_waiting_for_a_zygote_return_once_it_serves_and_fail_when_none_is_there(tmp_path):
    from autograder.warm import wait_for_zygote

    kernels = WarmKernels(sandbox=False, name="cnn-warm-wait").launch()  # still importing
    try:
        wait_for_zygote(kernels.folder)  # queued until the zygote serves
        assert kernels.ready() is kernels  # it had printed "ready" by then
    finally:
        kernels.stop()
    with pytest.raises(RuntimeError, match="no warm-kernel zygote answers"):
        wait_for_zygote(tmp_path)


def test_does_a_zygote_told_to_learn_serve_even_when_no_cells_come(tmp_path):
    """launch(learn=True) makes the zygote wait for cells on stdin after its imports:
    ready() without learn() sends none rather than waiting forever; learn() is once only."""
    kernels = WarmKernels(sandbox=False, name="cnn-warm-nolearn").launch(learn=True)
    try:
        assert kernels.ready() is kernels
        with pytest.raises(RuntimeError, match="once"):
            kernels.learn(["x = 1"])
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
        NotebookClient(
            nb, kernel_name=kernels.name, resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
        assert nb.cells[0].outputs[0]["text"] == "42\n"
    finally:
        kernels.stop()
