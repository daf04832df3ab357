"""Is a kernel served by a spare (spares.py) the kernel a fork on request would have been?"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from traitlets.config import Config

from autograder.spares import INIT_ENV
from autograder.warm import IPC, WarmKernels, ipc_prefix_in

PROBE = """\
import json, os, sys, zmq
import matplotlib
from ipykernel.kernelapp import IPKernelApp
app = IPKernelApp.instance()
print(json.dumps({
    "cwd": os.getcwd(),
    "env": {k: v for k, v in os.environ.items() if k != "CNN_ZYGOTE"},
    "dh": [str(p) for p in _dh],
    "starting_dir": get_ipython().starting_dir,
    "session": globals().get("__session__"),
    "path": sys.path,
    "backend": matplotlib.get_backend(),
    "connection_file": app.connection_file,
    "spare": "/spare-" in app.shell_socket.getsockopt(zmq.LAST_ENDPOINT).decode(),
}))
"""


@pytest.fixture(scope="module")
def spares():
    kernels = WarmKernels(sandbox=False, spares=True).start()
    yield kernels
    kernels.stop()


def probe(kernels: WarmKernels, folder, ipc: bool = True) -> dict:
    """What PROBE prints in a kernel of ``kernels`` started in ``folder`` (Unix sockets in the
    zygote's folder, as the grader asks for them, unless ``ipc`` is False: jupyter_client's tcp)."""
    config = Config()
    if ipc:
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = ipc_prefix_in(kernels.folder)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
    NotebookClient(
        nb,
        config=config,
        kernel_name=kernels.name,
        kernel_manager_class="autograder.kernelclient.GradingKernelManager",
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return json.loads(nb.cells[0].outputs[0]["text"])


def test_is_a_kernel_from_a_spare_the_kernel_a_fork_would_have_been(spares, tmp_path):
    """Same working directory (and IPython's record of it), environment, sys.path, backend,
    connection file; a fork on request is compared with the spares that served the next two
    requests. Nothing of the requests is left in the zygote's folder but the next spare."""
    forks = WarmKernels(sandbox=False, name="cnn-warm-forks").start()
    try:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        forked = probe(forks, tmp_path / "a")
        probe(spares, tmp_path)  # the zygote started in pytest's setup: PYTEST_CURRENT_TEST
        first, second = probe(spares, tmp_path / "a"), probe(spares, tmp_path / "b")
    finally:
        forks.stop()
    assert not forked.pop("spare") and first.pop("spare") and second.pop("spare")
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert first["cwd"] == first["starting_dir"] == a and first["dh"] == [a]
    assert second["cwd"] == second["starting_dir"] == b and second["dh"] == [b]
    for key in forked:
        if key != "connection_file":  # a file of the request's
            assert first[key] == forked[key], key
    assert os.path.dirname(first["connection_file"]) == os.path.dirname(forked["connection_file"])
    assert first["env"]["TERM"] == "xterm-color"  # what IPython's shell sets, set again
    left = os.listdir(spares.folder / IPC)
    assert left and all(name.startswith("spare-") for name in left)


def test_does_a_request_from_another_environment_get_a_fork_and_the_next_spare_its_env(
    spares, tmp_path, monkeypatch
):
    """The spare read LANG while it initialised: a kernel for another LANG is forked on request,
    and the spare made after it initialises with that LANG, so it serves the next request."""
    probe(spares, tmp_path)  # the spare there now has this environment
    monkeypatch.setenv("LANG", "C")
    assert "LANG" in INIT_ENV
    other = probe(spares, tmp_path)
    again = probe(spares, tmp_path)
    assert not other["spare"] and again["spare"]
    assert other["env"]["LANG"] == again["env"]["LANG"] == "C"


def test_does_a_tcp_request_get_a_fork_and_leave_the_spare_for_the_next(spares, tmp_path):
    """A spare's sockets are Unix sockets: a kernel on tcp ports is forked on request, and the
    spare is kept (not thrown away and made again) for the next request on Unix sockets."""
    probe(spares, tmp_path)
    pids = {name.split("-")[1] for name in os.listdir(spares.folder / IPC)}
    assert not probe(spares, tmp_path, ipc=False)["spare"]
    assert {name.split("-")[1] for name in os.listdir(spares.folder / IPC)} == pids
    assert probe(spares, tmp_path)["spare"]


READS = r"""\
import json, os, sys, tempfile
from autograder import zygote
zygote.preload()  # imports read the zygote's environment, a spare's and a fork's alike
read = set()
class Recording(type(os.environ)):
    def __getitem__(self, key):
        read.add(key)
        return super().__getitem__(key)
    def __contains__(self, key):
        read.add(key)
        return super().__contains__(key)
e = os.environ
os.environ = Recording(e._data, e.encodekey, e.decodekey, e.encodevalue, e.decodevalue)
from jupyter_client.connect import write_connection_file
folder = tempfile.mkdtemp()
write_connection_file(f"{folder}/k.json", transport="ipc", ip=f"{folder}/k")
zygote.kernel_app(f"{folder}/k.json")
names = sorted({k.decode() if isinstance(k, bytes) else k for k in read})
sys.__stdout__.write("\nREAD " + json.dumps(names) + "\n")
"""


def test_does_init_env_name_every_variable_a_kernels_initialisation_reads(tmp_path):
    """Measured afresh: what ipykernel and IPython read from os.environ while a kernel
    initialises after the zygote's imports (a new version may read more: a spare would then
    be served to requests whose value differs)."""
    done = subprocess.run(
        [sys.executable, "-c", READS], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("READ ")]
    assert lines, done.stderr[-2000:]
    read = set(json.loads(lines[-1][len("READ ") :]))
    assert "HOME" in read  # the recording works
    assert read <= set(INIT_ENV), read - set(INIT_ENV)


def test_are_spares_only_for_unsandboxed_zygotes():
    with pytest.raises(ValueError, match="unsandboxed"):
        WarmKernels(sandbox=True, spares=True)
