"""A warm process that forks ready-to-run Jupyter kernels.

Starting a kernel and importing torch costs seconds per notebook. The zygote pays it once: it
imports the heavy libraries (but starts no kernel and no threads), then listens on a Unix
socket. For each request it forks; the child becomes an ordinary ipykernel (``IPKernelApp``)
on the connection file it was given, in the requested working directory and environment.
Nothing is executed on the kernel's behalf: nbclient/nbgrader drive it exactly as they drive a
kernel they started themselves.

Protocol: one JSON line per connection, ``{"connection_file", "cwd", "env", "launcher_pid"}``;
the reply is one JSON line ``{"pid": <kernel pid>}``.
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
)


def preload() -> None:
    import importlib

    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # a missing optional library only makes the kernel start slower
            pass


def _watch_launcher(launcher_pid: int) -> None:
    """Exit when the launcher (the process jupyter_client manages) is gone."""
    while True:
        try:
            os.kill(launcher_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        time.sleep(0.2)


def become_kernel(request: dict) -> None:
    """In the forked child: turn into an ipykernel as a fresh process would be."""
    os.setsid()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    random.seed()
    try:
        import numpy

        numpy.random.seed()
    except ImportError:
        pass
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    threading.Thread(target=_watch_launcher, args=(request["launcher_pid"],), daemon=True).start()
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=["-f", request["connection_file"]])


def serve(path: str) -> None:
    parent = os.getppid()  # the zygote belongs to one grader process: leave when it is gone
    preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel children are reaped automatically
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    server.bind(path)
    server.listen(16)
    server.settimeout(0.5)
    print("ready", flush=True)  # the parent waits for this line
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
            pid = os.fork()
            if pid == 0:
                server.close()
                conn.close()
                try:
                    become_kernel(request)
                finally:
                    os._exit(0)
            conn.sendall((json.dumps({"pid": pid}) + "\n").encode())


if __name__ == "__main__":
    serve(sys.argv[1])
