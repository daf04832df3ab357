"""The kernel command of the ``cnn-warm`` kernelspec: ask the zygote for a forked kernel.

jupyter_client starts this small process (standard library only, so it starts in tens of
milliseconds) as if it were the kernel. It asks the zygote (``$CNN_ZYGOTE``) to fork a kernel
on the same connection file (sent by content: a sandboxed zygote cannot read it), then stands
in for it: SIGINT is forwarded (an interrupt), SIGTERM kills the kernel, and the kernel is
killed if the memory it allocated exceeds ``$CNN_KERNEL_MEMORY_MB``. It exits when the kernel
does, and the kernel exits when it does (it watches the connection to the zygote).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import sys
import time

POLL_SECONDS = 0.05
MEMORY_EVERY = 10  # polls between exact memory readings (smaps_rollup takes ~8 ms)
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def family(pid: int) -> list[int]:
    """The kernel and its children (a DataLoader's workers, a subprocess)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [pid] + [int(p) for p in f.read().split()]
    except OSError:
        return [pid]


def private_mb(pids: list[int]) -> float:
    """Memory a kernel (and its children) added beyond what it shares with the zygote, in MiB.

    A forked kernel shares the zygote's pages (torch and friends) until it writes to them, so
    its RSS starts near a gigabyte; its private pages are what the student's code allocated.
    Reading them (``smaps_rollup``) takes ~10 ms of CPU for a forked kernel.
    """
    total = 0.0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith(("Private_Clean:", "Private_Dirty:")):
                        total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def resident_mb(pids: list[int]) -> float:
    """Their resident memory (statm: microseconds to read, unlike smaps_rollup).

    A forked kernel starts with the zygote's resident pages counted; what it allocates adds to
    that, so growth beyond the limit is worth an exact reading (:func:`private_mb`).
    """
    total = 0.0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_MB
        except (OSError, IndexError, ValueError):
            continue
    return total


def exact_reading_due(resident: float, start: float, limit: float, polls: int) -> bool:
    """Whether to read the private memory now (every MEMORY_EVERY polls, at once after a
    growth past the limit). Never while the resident memory is within the limit: private
    pages are resident pages, so the private memory cannot exceed the limit before the
    resident memory does (with the default 4 GiB limit, most kernels are never read)."""
    if not limit or resident <= limit:
        return False
    return resident - start > limit or polls % MEMORY_EVERY == 0


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _exit_watch(pid: int):
    """A function that sleeps up to its argument in seconds, waking early when ``pid`` exits.

    A pidfd is readable once its process has exited, so the launcher exits (and nbclient's
    shutdown of the kernel returns) as soon as the kernel has, not up to a poll later.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # an old kernel, or the process is already gone
        return time.sleep
    return lambda seconds: select.select([pidfd], [], [], seconds)


def request_kernel(connection_file: str) -> tuple[int, socket.socket]:
    """Ask the zygote for a kernel: its pid as this process sees it, and the connection.

    The kernel lives as long as the connection. Its reply carries its credentials
    (SO_PASSCRED), whose pid the kernel translates into this process's pid namespace: a
    sandboxed kernel knows only its pid inside the sandbox.
    """
    with open(connection_file) as f:
        connection = json.load(f)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.connect(os.environ["CNN_ZYGOTE"])
    request = {
        "op": "fork",
        "connection": connection,
        "connection_file": os.path.abspath(connection_file),
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "launcher_pid": os.getpid(),
    }
    sock.sendall((json.dumps(request) + "\n").encode())
    data, pid = b"", 0
    ucred = struct.calcsize("3i")
    while not data.endswith(b"\n"):
        chunk, ancillary, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(ucred))
        if not chunk:
            raise ConnectionError("the zygote closed the connection without a kernel")
        data += chunk
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("3i", payload[:ucred])[0]
    return pid or int(json.loads(data)["pid"]), sock


def main(argv: list[str]) -> int:
    connection_file = argv[argv.index("-f") + 1]
    kernel, _connection = request_kernel(connection_file)  # keep it open: the kernel's lifeline
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
    exited = _exit_watch(kernel)
    start_mb = resident_mb([kernel])
    while alive(kernel):
        if os.getppid() != parent:  # whoever managed us is gone: take the kernel with us
            os.kill(kernel, signal.SIGKILL)
            return 1
        pids = family(kernel)  # its children count too
        due = exact_reading_due(resident_mb(pids), start_mb, limit, polls)
        if due and private_mb(pids) > limit:
            os.kill(kernel, signal.SIGKILL)
            return 137
        polls += 1
        exited(POLL_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
