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
import signal
import socket
import struct
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
