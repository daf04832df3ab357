"""Warm kernels for the grader: a zygote process and the ``cnn-warm`` kernelspec that uses it.

By default the zygote runs in the sandbox (sandbox.py), so every kernel it forks does too; the
grader then calls :meth:`WarmKernels.reset` before each submission. ``sandbox=False`` gives the
unsandboxed zygote of before (and another kernel name, for a second, trusted kernel), which can
keep a spare kernel initialised ahead of each request (``spares=True``, spares.py) for kernel
managers whose sockets are Unix sockets under :func:`ipc_prefix_in`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from autograder.sandbox import Sandbox, kernel_env

KERNEL_NAME = "cnn-warm"
LAUNCHER = str(Path(__file__).with_name("warmkernel.py"))  #: the kernel command (a script)
SOCKET = "zygote.sock"  #: in a WarmKernels folder, outside the sandbox
IPC = "ipc"  #: in an unsandboxed WarmKernels folder: its kernels' (and spares') Unix sockets
TRUSTED_KERNEL_NAME = "cnn-warm-trusted"  #: unsandboxed, for the hardened grader's trusted kernel
#: Not for a zygote or its kernels: Dask's nanny sets it for its workers
#: (``distributed.nanny.pre-spawn-environ``), in their environment and in the process that runs
#: the nanny, so a worker's kernels and the grader's shared zygote would inherit it. It fixes
#: glibc's mmap threshold at 128 KiB, so every tensor larger than that is mapped afresh and
#: page-faulted in on each allocation. Measured in a kernel, one thread: ``x + x`` on 300x451
#: floats 0.01 -> 0.21 ms, ``F.conv2d`` 3x3 on it 0.43 -> 3.7 ms; a cell of ch05 30 -> 100 ms of
#: CPU. Plain nbgrader's kernels do not have it.
NOT_FOR_KERNELS = ("MALLOC_TRIM_THRESHOLD_",)


def add_kernelspecs(folder: Path | str) -> None:
    """Let jupyter_client find the kernelspecs of a :class:`WarmKernels` ``folder`` (which may
    belong to another process: a local grader shares its unsandboxed zygotes with its workers)."""
    paths = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if str(folder) not in paths:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([str(folder), *paths])


def ipc_prefix_in(folder: Path | str) -> str:
    """The ``ip`` of the ipc transport for this process's kernels from the unsandboxed zygote
    of ``folder``: their sockets in its folder, where its spares are (one prefix per process:
    jupyter_client picks a kernel's socket names among the files that do not exist yet)."""
    return str(Path(folder) / IPC / f"{os.getpid()}-k")


def wait_for_zygote(folder: Path | str, timeout: float = 180.0) -> None:
    """Return once the zygote of a :class:`WarmKernels` ``folder`` serves (it may still be
    importing: the request waits in its socket's queue); RuntimeError if it died instead."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(Path(folder) / SOCKET))
            sock.sendall(b'{"op": "ping"}\n')
            reply = sock.makefile("r").readline()
        except OSError as error:
            raise RuntimeError(f"no warm-kernel zygote answers in {folder}: {error}") from None
    if not reply.strip():
        raise RuntimeError(f"the warm-kernel zygote in {folder} stopped before it was ready")


class WarmKernels:
    """Own one zygote (see zygote.py) and a kernelspec folder pointing kernels at it."""

    def __init__(
        self,
        memory_mb: int = 0,
        sandbox: bool = True,
        cpu_seconds: int = 0,
        max_processes: int = 0,
        name: str = KERNEL_NAME,
        figures: bool = True,
        env: dict[str, str] | None = None,
        spares: bool = False,
    ) -> None:
        if spares and sandbox:
            raise ValueError("spare kernels are for unsandboxed zygotes only (spares.py)")
        self.spares = spares  # a spare kernel initialised ahead of each request
        self.memory_mb = memory_mb
        self.env = env or {}  # set for the zygote (and so its kernels), unsandboxed only
        self.figures = figures  # False: the kernels draw no matplotlib figures
        self.name = name
        self.folder = Path(tempfile.mkdtemp(prefix="cnn-warm-"))
        self.socket = self.folder / SOCKET  # outside the sandbox: students cannot replace it
        self.sandbox = Sandbox(self.folder) if sandbox else None
        self.limits = ["--cpu-seconds", str(cpu_seconds), "--max-processes", str(max_processes)]
        self.process: subprocess.Popen[str] | None = None
        self._teaching: threading.Thread | None = None  # writes them there (learn())

    @property
    def ipc_prefix(self) -> str:
        """The ``ip`` of a kernel's ipc transport: its sockets are files in the scratch folder."""
        assert self.sandbox is not None
        return str(self.sandbox.scratch / "ipc" / "k")

    def start(self) -> WarmKernels:
        """Start the zygote and wait until it has imported everything (a few seconds)."""
        return self.launch().ready()

    def launch(self, learn: bool = False) -> WarmKernels:
        """Start the zygote without waiting for it: kernels asked for meanwhile wait for it.
        ``learn``: once it has imported everything, it waits for :meth:`learn`'s cells (or for
        :meth:`ready`, which sends none)."""
        spec = self.folder / "kernels" / self.name
        spec.mkdir(parents=True)
        kernel = {
            # -I -S: the launcher is standard library only; without site (the environment's
            # .pth files) it starts in ~7 ms rather than ~25 ms, once per notebook
            "argv": [sys.executable, "-I", "-S", LAUNCHER, "-f", "{connection_file}"],
            "display_name": "Python 3 (warm, CNN Foundations grader)",
            "language": "python",
            "interrupt_mode": "signal",
            "env": {"CNN_ZYGOTE": str(self.socket), "CNN_KERNEL_MEMORY_MB": str(self.memory_mb)},
        }
        (spec / "kernel.json").write_text(json.dumps(kernel, indent=1))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.socket))
        listener.listen(16)
        command = [sys.executable, "-m", "autograder.zygote", "--fd", str(listener.fileno())]
        if learn:
            command.append("--learn")
        if not self.figures:
            command.append("--no-figures")
        if self.sandbox is None:  # the sandboxed kernels' sockets are in its scratch folder
            (self.folder / IPC).mkdir()
        if self.spares:
            command += ["--spares", str(self.folder / IPC)]
        env = {k: v for k, v in {**os.environ, **self.env}.items() if k not in NOT_FOR_KERNELS}
        if self.sandbox is not None:
            self.sandbox.prepare()
            command += ["--sandbox", str(self.sandbox.scratch), *self.limits]
            if self.sandbox.root:
                command += ["--uid", str(self.sandbox.uid)]
            command = self.sandbox.argv(command)
            env = kernel_env(dict(os.environ))
        started = threading.Event()

        def run() -> None:  # bwrap --die-with-parent: the thread that starts it must outlive it
            try:
                self.process = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE if learn else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    pass_fds=(listener.fileno(),),
                    env=env,
                )
            finally:
                started.set()
            self.process.wait()

        threading.Thread(target=run, daemon=True, name="cnn-zygote").start()
        started.wait()
        listener.close()
        return self

    def learn(self, cells: Iterable[str]) -> WarmKernels:
        """Send the launched zygote cells every submission shares (knowncells.py), for it to
        preprocess once after its imports. Once at most, after ``launch(learn=True)``; it does
        not wait for the zygote (the cells may not fit in the pipe before it reads them)."""
        if not self._learning() or self._teaching is not None:
            raise RuntimeError("learn() once, after launch(learn=True)")
        data = json.dumps(list(cells))
        self._teaching = threading.Thread(target=self._send, args=(data,), daemon=True)
        self._teaching.start()
        return self

    def _learning(self) -> bool:
        """Whether the zygote waits for cells on its stdin (``launch(learn=True)``)."""
        return self.process is not None and self.process.stdin is not None

    def _send(self, data: str) -> None:
        stdin = self.process.stdin if self.process else None
        if stdin is None:
            return
        try:
            stdin.write(data)
            stdin.close()
        except (OSError, ValueError):  # the zygote is gone (ready() says so) or stopped
            pass

    def ready(self) -> WarmKernels:
        """Wait for the launched zygote's "ready"; RuntimeError if it did not start."""
        if self._learning() and self._teaching is None:
            self.learn([])  # nothing to learn: the zygote must not wait for cells
        if self._teaching is not None:
            self._teaching.join()
        line = self.process.stdout.readline() if self.process and self.process.stdout else ""
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(
                "the warm-kernel zygote did not start (see python -m autograder.zygote)"
            )
        add_kernelspecs(self.folder)
        return self

    def reap(self) -> int:
        """Kill every process left in the sandbox; how many there were."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(str(self.socket))
            sock.sendall(b'{"op": "reap"}\n')
            return int(json.loads(sock.makefile("r").readline())["killed"])

    def reset(self, submission: Path | None) -> None:
        """Before (and after) a submission: no process left, scratch emptied, the submission's
        own files (``submitted/<student>/<assignment>``) copied into the kernels' ``work/``."""
        if self.sandbox is not None:
            self.reap()
            self.sandbox.reset(submission)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()  # the "ready" pipe
        shutil.rmtree(self.folder, ignore_errors=True)
