"""A warm process that forks ready-to-run Jupyter kernels.

Starting a kernel and importing torch costs seconds per notebook. The zygote pays it once: it
imports the heavy libraries (but starts no kernel and no threads), then listens on a Unix
socket. For each request it forks; the child becomes an ordinary ipykernel (``IPKernelApp``)
on the connection file it was given, in the requested working directory and environment.
Nothing is executed on the kernel's behalf: nbclient/nbgrader drive it exactly as they drive a
kernel they started themselves.

Protocol: one JSON line per connection (see :func:`serve`); a fork's reply comes from the
kernel process itself, which then lives as long as the connection.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

from autograder import knowncells, tracebacks

#: Imported before forking, so that every kernel starts with them already loaded.
PRELOAD = (
    "numpy",
    "torch",
    "torch.optim",
    "torch._dynamo",  # the first optimizer.step() imports it: seconds per notebook otherwise
    "torchvision",
    "matplotlib",
    "matplotlib.pyplot",
    "PIL.Image",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "autograder.checks",
    "autograder.bridge",  # on_student (ch02, ch06); the hardened grader's, in every kernel
    "autograder.cifar",
    "tqdm.notebook",  # tqdm.auto's progress bars in a kernel: ipywidgets, ~30 ms (ch04, ch06)
)


#: Arguments every forked kernel gets, as nbclient passes them to a kernel it starts itself
#: (the launcher does not forward them): no history database on disk, no history thread.
KERNEL_ARGV = ("--HistoryManager.hist_file=:memory:",)
SPARE_WAIT_SECONDS = 30.0  #: for a spare still initialising; then a kernel is forked instead


def _probe_kernel_modules() -> Callable[[], list[str]]:
    """Start finding the modules an initialised ipykernel has loaded; returns the function that
    waits for them (a list in import order).

    A throwaway child initialises an ``IPKernelApp`` (Unix sockets, threads: it is never forked
    again), runs a cell that fails (the first traceback imports stack_data, pygments'
    formatters...: half a second) and reports ``sys.modules``; whatever it imported beyond
    PRELOAD (the debugger, psutil, sqlite3, IPython's extensions...) is what every kernel would
    otherwise import again. Started before PRELOAD is imported, it runs on another core while
    the zygote imports torch (0.15 s less before the zygote serves); the modules it reports
    beyond PRELOAD are the same either way (checked: 176 of them).
    """
    import tempfile

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            from ipykernel.kernelapp import IPKernelApp

            with tempfile.TemporaryDirectory(prefix="cnn-zygote-") as tmp:
                app = IPKernelApp.instance()
                argv = ["-f", f"{tmp}/kernel.json", "--transport=ipc", f"--ip={tmp}/kernel"]
                app.initialize(argv=[*argv, *KERNEL_ARGV])  # ipc: works without a network too
                app.shell.run_cell("def f():\n    raise ValueError\nf()", store_history=False)
                with os.fdopen(write, "w") as pipe:
                    json.dump(list(sys.modules), pipe)
        finally:
            os._exit(0)
    os.close(write)

    def modules() -> list[str]:
        with os.fdopen(read) as pipe:
            text = pipe.read()
        os.waitpid(pid, 0)
        try:
            return list(json.loads(text))
        except ValueError:  # the kernel could not start here: kernels will import it themselves
            return []

    return modules


def preload(learn: bool = False) -> None:
    """Import everything a kernel would; ``learn``: then read the instructor's cells (a JSON
    list) from stdin and preprocess them for every kernel (knowncells.py)."""
    import gc
    import importlib

    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # No collection while importing: the imports allocate millions of objects that all live,
    # and the collector would walk them again and again (2.8 -> 2.2 s for all of this, of
    # which 0.26 -> 0.07 s for the traceback); one collection at the end frees the garbage.
    gc.disable()
    try:
        kernel_modules = _probe_kernel_modules()
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:  # a missing optional library only makes the kernel start slower
                pass
        for name in kernel_modules():
            if name not in sys.modules:
                try:
                    importlib.import_module(name)
                except Exception:  # a module that imports only inside a running kernel
                    pass
        if learn:  # the grader writes them while this process imports: no wait here
            knowncells.learn(_read_cells(sys.stdin))
        tracebacks.warm()  # after the last import: it maps every loaded module to its file
    finally:
        # Move everything loaded so far out of the garbage collector's reach: a collection in
        # a forked kernel would otherwise write to every object's header, copying the zygote's
        # pages (torch's modules) one by one - hundreds of milliseconds per kernel.
        gc.collect()  # garbage from the imports is freed, not frozen
        gc.freeze()
        gc.enable()  # the kernels forked from here collect as any process does


def _read_cells(stream) -> list[str]:
    """The cells the grader sent (a JSON list of strings); none if it sent nothing usable."""
    try:
        cells = json.load(stream)
    except ValueError:
        return []
    return [c for c in cells if isinstance(c, str)] if isinstance(cells, list) else []


def watch_launcher(launcher_pid: int) -> None:
    """Exit when the launcher (the process jupyter_client manages) is gone."""
    while True:
        try:
            os.kill(launcher_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        time.sleep(0.2)


def become_kernel(request: dict, figures: bool = True) -> None:
    """In the forked child: turn into an ipykernel as a fresh process would be; ``figures``
    False: matplotlib figures are not drawn (no image formats: a figure displays as its text
    repr, which the grader rewrites, see execute.py), drawing being most of a chapter's compute.
    """
    fresh_process()
    enter(request)
    run_kernel(kernel_app(request["connection_file"], figures), request)


def answer(conn: socket.socket) -> None:
    """Tell the launcher on ``conn`` that this process is its kernel; exit when it closes it."""
    conn.sendall((json.dumps({"pid": os.getpid()}) + "\n").encode())
    threading.Thread(target=watch_connection, args=(conn,), daemon=True).start()


def run_kernel(app, request: dict) -> None:
    """Start the initialised ``app`` as ``request``'s kernel, for as long as its launcher lives."""
    threading.Thread(target=watch_launcher, args=(request["launcher_pid"],), daemon=True).start()
    as_if_imported_in_the_kernel()
    app.start()


def fresh_process() -> None:
    """What a process started afresh has: a session of its own, the default signal handlers,
    random seeds of its own, no terminal."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    random.seed()
    try:
        import numpy

        numpy.random.seed()
    except ImportError:
        pass
    if "torch" in sys.modules:  # torch seeds itself per process: every fork would share one
        sys.modules["torch"].seed()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)


def enter(request: dict) -> None:
    """The request's working directory and environment, as the kernel's launcher has them."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])


def kernel_app(connection_file: str, figures: bool = True):
    """An initialised IPKernelApp on ``connection_file``, not started."""
    from ipykernel.kernelapp import IPKernelApp
    from traitlets.config import Config

    config = Config()
    # ipykernel sleeps 0.5 ms before each execute_reply (a FIXME against lost output on some
    # clients): 1.1% of a ch06 batch's kernel samples; 33 print cells 80 -> 46 ms without it.
    # nbclient does not need it: it reads a cell's outputs on IOPub until the idle status,
    # which the kernel publishes after them (tests/test_zygote.py).
    config.IPythonKernel._execute_sleep = 0.0
    if not figures:
        config.InlineBackend.figure_formats = set()
    app = IPKernelApp.instance(config=config)  # what IPKernelApp.launch_instance does
    app.initialize(argv=["-f", connection_file, *KERNEL_ARGV])
    tracebacks.plain_history(app.shell)  # IPython 9 formats each error twice otherwise
    tracebacks.cells_in_main(app.shell)
    knowncells.reuse(app.shell)
    return app


def as_if_imported_in_the_kernel() -> None:
    """Redo what a preloaded module does at import that depends on the kernel or environment.

    ipywidgets (preloaded by tqdm.notebook) registers its comm targets with the running kernel
    at import, and reads JUPYTER_WIDGETS_ECHO: in the zygote there was no kernel and another
    environment.
    """
    widgets = sys.modules.get("ipywidgets")  # nbgrader requires it; its version is not pinned
    widget = getattr(getattr(widgets, "widgets", None), "widget", None)
    if hasattr(widget, "envset"):  # private names: tests/test_zygote.py says if they change
        widget.JUPYTER_WIDGETS_ECHO = widget.envset("JUPYTER_WIDGETS_ECHO", default=True)
    if hasattr(widgets, "_handle_ipython"):
        widgets._handle_ipython()


def watch_connection(conn: socket.socket) -> None:
    """Exit when the launcher closes its connection (it exited, even by kill -9)."""
    try:
        while conn.recv(1):
            pass
    except OSError:
        pass
    os._exit(1)


def _set_dumpable(flag: int) -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(4, flag, 0, 0, 0)  # PR_SET_DUMPABLE


def _sandboxed_request(request: dict, outside: str) -> dict:
    """In the child, inside the sandbox: the connection file written into scratch, paths inside.

    The grader's connection file is outside the sandbox; its ipc socket paths are under the
    scratch folder as the grader sees it (``outside``), which the sandbox sees as INSIDE.
    """
    from autograder import sandbox

    info = dict(request["connection"])
    if info.get("transport") != "ipc" or not str(info.get("ip", "")).startswith(outside):
        raise RuntimeError(f"a sandboxed kernel needs ipc sockets under {outside}")
    info["ip"] = sandbox.INSIDE + str(info["ip"])[len(outside) :]
    path = f"{sandbox.INSIDE}/ipc/kernel-{os.getpid()}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    return {
        **request,
        "connection_file": path,
        "cwd": f"{sandbox.INSIDE}/work",
        "env": sandbox.kernel_env(request["env"]),
        "launcher_pid": os.getppid(),  # outside the pid namespace: the connection tells instead
    }


def serve(
    listen: str | int,
    outside: str | None = None,
    uid: int = -1,
    cpu_seconds: int = 0,
    max_processes: int = 0,
    figures: bool = True,
    learn: bool = False,
    spares: str | None = None,
) -> None:
    """Answer requests on a Unix socket (a path, or a listening socket's file descriptor).

    Requests, one JSON line per connection: ``{"op": "fork", "connection": {...},
    "connection_file", "cwd", "env", "launcher_pid"}`` forks a kernel whose process replies
    ``{"pid": ...}`` (the launcher reads its pid as it sees it from SCM_CREDENTIALS) and exits
    when the connection closes; ``{"op": "reap"}`` kills every process left in the sandbox and
    replies ``{"killed": n}``; ``{"op": "ping"}`` replies ``{"ready": true}`` (answered
    once the zygote serves, that is once it has imported everything). ``outside`` (the
    scratch folder as the grader sees it) means the zygote runs in the sandbox (sandbox.py):
    the kernels get the sandbox's connection file, working directory and environment, and
    every other process is killed before a fork.
    ``figures`` False: kernels do not draw matplotlib figures. ``learn``: the grader sends
    the instructor's cells on stdin (see :func:`preload`). ``spares`` (a folder; unsandboxed
    only): a spare kernel is initialised there ahead of each request (spares.py).
    """
    from autograder import sandbox
    from autograder.spares import Spare

    if outside and spares:
        raise ValueError("spare kernels are for unsandboxed zygotes only")
    if uid >= 0:
        sandbox.drop_privileges(uid)  # bwrap was started by root: be nobody before anything
    parent = os.getppid()  # the zygote belongs to one grader process: leave when it is gone
    environ = dict(os.environ)  # as started: preload sets variables (MPLBACKEND) for itself
    if outside:
        _set_dumpable(0)  # the student's processes (same uid) must not ptrace the zygote
    preload(learn)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel children are reaped automatically
    if isinstance(listen, int):
        server = socket.socket(fileno=listen)
    else:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(listen):
            os.unlink(listen)
        server.bind(listen)
        server.listen(16)
    server.settimeout(0.5)
    print("ready", flush=True)  # the parent waits for this line
    limits = (cpu_seconds, max_processes)
    spare = Spare(spares, environ, figures, limits, server) if spares else None
    while True:
        if os.getppid() != parent:  # the grader died, even by kill -9: no orphans
            os._exit(0)
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        conn.settimeout(None)
        with conn:
            request = json.loads(conn.makefile("r").readline())
            if request.get("op") == "ping":  # a grader waiting for this zygote to be ready
                conn.sendall(b'{"ready": true}\n')
                continue
            if request.get("op") == "reap":
                killed = sandbox.reap_namespace() if outside else 0
                conn.sendall((json.dumps({"killed": killed}) + "\n").encode())
                continue
            if outside:
                sandbox.reap_namespace()  # the previous student's leftovers, before anything
            if spare is not None:
                if _served_by(spare, request, conn):
                    spare = Spare(spares, request["env"], figures, limits, server)
                    continue
                if (
                    not spare.alive
                    or not spare.fits(request)
                    or (spare.reaches(request) and not spare.ready)
                ):
                    # failed, another environment (the next spare takes this one's), or stuck
                    spare.discard()
                    spare = None
            pid = os.fork()
            if pid == 0:
                server.close()
                if spare is not None:
                    spare.channel.close()
                try:
                    if outside:
                        request = _sandboxed_request(request, outside)
                        _set_dumpable(1)  # the launcher reads the kernel's memory in /proc
                    sandbox.limit_kernel(cpu_seconds, max_processes)
                    answer(conn)
                    become_kernel(request, figures)
                finally:
                    os._exit(0)
            if spares and spare is None:
                spare = Spare(spares, request["env"], figures, limits, server)


def _served_by(spare, request: dict, conn: socket.socket) -> bool:
    """Whether ``spare`` became ``request``'s kernel (it waits for a spare still initialising:
    at most what a fork now would take)."""
    return (
        spare.fits(request)
        and spare.reaches(request)
        and spare.wait(SPARE_WAIT_SECONDS)
        and spare.hand_over(request, conn)
    )


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m autograder.zygote")
    parser.add_argument("path", nargs="?", help="listen on this Unix socket path")
    parser.add_argument("--fd", type=int, help="or on this inherited listening socket")
    parser.add_argument("--sandbox", help="running in the sandbox; scratch as the grader sees it")
    parser.add_argument("--uid", type=int, default=-1, help="drop root's rights to this uid")
    parser.add_argument("--cpu-seconds", type=int, default=0, help="RLIMIT_CPU per kernel")
    parser.add_argument("--max-processes", type=int, default=0, help="RLIMIT_NPROC per kernel")
    parser.add_argument("--no-figures", action="store_true", help="kernels draw no figures")
    parser.add_argument("--learn", action="store_true", help="read cells to preprocess on stdin")
    parser.add_argument("--spares", help="initialise each next kernel ahead, in this folder")
    args = parser.parse_args(argv)
    listen = args.fd if args.fd is not None else args.path
    serve(
        listen,
        args.sandbox,
        args.uid,
        args.cpu_seconds,
        args.max_processes,
        not args.no_figures,
        args.learn,
        args.spares,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
