"""The kernel command of the ``cnn-warm`` kernelspec: ask the zygote for a forked kernel.

jupyter_client starts this small process (standard library only, so it starts in tens of
milliseconds) as if it were the kernel. It asks the zygote (``$CNN_ZYGOTE``) to fork a kernel
on the same connection file, then stands in for it: SIGINT is forwarded (an interrupt),
SIGTERM kills the kernel, and the kernel is killed if the memory it allocated exceeds
``$CNN_KERNEL_MEMORY_MB``. It exits when the kernel does.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

POLL_SECONDS = 0.1
MEMORY_EVERY = 5  # polls between memory readings (smaps_rollup is not free)


def private_mb(pid: int) -> float:
    """Memory a kernel (and its children) added beyond what it shares with the zygote, in MiB.

    A forked kernel shares the zygote's pages (torch and friends) until it writes to them, so
    its RSS starts near a gigabyte; its private pages are what the student's code allocated.
    """
    total = 0.0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith(("Private_Clean:", "Private_Dirty:")):
                        total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def request_kernel(connection_file: str) -> int:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.environ["CNN_ZYGOTE"])
    request = {
        "connection_file": os.path.abspath(connection_file),
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "launcher_pid": os.getpid(),
    }
    sock.sendall((json.dumps(request) + "\n").encode())
    reply = json.loads(sock.makefile("r").readline())
    sock.close()
    return int(reply["pid"])


def main(argv: list[str]) -> int:
    connection_file = argv[argv.index("-f") + 1]
    kernel = request_kernel(connection_file)
    limit = float(os.environ.get("CNN_KERNEL_MEMORY_MB", "0") or 0)

    def forward(signum, _frame):
        try:
            os.kill(kernel, signal.SIGINT if signum == signal.SIGINT else signal.SIGKILL)
        except ProcessLookupError:
            pass
        if signum != signal.SIGINT:
            sys.exit(128 + signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    parent = os.getppid()
    polls = 0
    while alive(kernel):
        if os.getppid() != parent:  # whoever managed us is gone: take the kernel with us
            os.kill(kernel, signal.SIGKILL)
            return 1
        if limit and polls % MEMORY_EVERY == 0 and private_mb(kernel) > limit:
            os.kill(kernel, signal.SIGKILL)
            return 137
        polls += 1
        time.sleep(POLL_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
