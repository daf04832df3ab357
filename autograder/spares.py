"""Spare kernels: an unsandboxed zygote forks and initialises the next kernel before it is asked.

A kernel forked on request spends 0.1-0.2 s before it answers (the fork, then IPKernelApp's
initialisation: the shell, its sockets and threads) while the notebook waits. A spare does that
work in advance, while the previous notebook runs, on sockets of its own, and the zygote gives
it the next request it can serve:

* its ZeroMQ sockets are Unix sockets (the ``ipc`` transport) in the zygote's folder; the
  zygote hard-links each to the path the request's connection file names (a client connecting
  to that path reaches the same listening socket) and removes the spare's own names;
* it takes the request's key (it signs its messages as the connection file says), working
  directory and environment. What IPython's initialisation derived from them is redone: the
  shell's starting directory and directory history, the variables the initialisation set;
* a request goes to a spare only if its environment agrees with the spare's on every variable
  the initialisation reads (INIT_ENV; tests/test_spares.py checks the list against what
  ipykernel reads), so the spare is the kernel a fork on request would have been.

Not for sandboxed zygotes: there no kernel may exist before the previous student's processes
are reaped and the scratch folder emptied (zygote.serve).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
from pathlib import Path

#: The environment variables ipykernel's and IPython's initialisation read (measured: see
#: tests/test_spares.py). A request is served by a spare only if they are equal in both.
INIT_ENV = (
    "COLUMNS",
    "HOME",
    "IPYTHONDIR",
    "JPY_SESSION_NAME",
    "JUPYTER_DATA_DIR",
    "JUPYTER_PLATFORM_DIRS",
    "JUPYTER_RUNTIME_DIR",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_MESSAGES",
    "LINES",
    "MPLBACKEND",
    "PYTEST_CURRENT_TEST",
    "PYTHONASYNCIODEBUG",
    "PYTHONSTARTUP",
    "TEMP",  # TEMP, TMP, TMPDIR: tempfile's, read once by its first caller: the initialisation
    "TERM",  # when no import asked before (so in CI's run of tests/test_spares.py, not here)
    "TMP",
    "TMPDIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
)
#: A kernel's five sockets, numbered 1-5 in a spare's own connection file.
CHANNELS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
MAX_REQUEST = 1 << 20  #: bytes: a fork request (its environment) is a few kilobytes
ADOPT_SECONDS = 10.0  #: for an initialised spare to take a request (it takes milliseconds)
READY, ADOPTED, GO = b"ready", b"adopted", b"go"  #: spare -> zygote, spare -> zygote, back


def init_env(env: dict[str, str]) -> dict[str, str]:
    """The part of ``env`` a kernel's initialisation reads."""
    return {k: env[k] for k in INIT_ENV if k in env}


class Spare:
    """The zygote's handle on one spare kernel, forked at construction."""

    def __init__(
        self, folder: str, env: dict[str, str], figures: bool, limits: tuple[int, int], server
    ) -> None:
        self.folder = folder
        self.env = dict(env)
        self.ip = f"{folder}/spare-{os.getpid()}-{secrets.token_hex(4)}"
        self.ready = False
        self.alive = True  # False once discarded or handed over
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                server.close()
                self.channel.close()
                _spare(theirs, self.ip, self.env, figures, limits)
            finally:
                os._exit(0)
        theirs.close()

    def fits(self, request: dict) -> bool:
        """Whether ``request``'s environment is the spare's, as far as its initialisation read."""
        return init_env(request.get("env", {})) == init_env(self.env)

    def reaches(self, request: dict) -> bool:
        """Whether the spare's sockets can take ``request``'s paths: Unix sockets on the file
        system of the spare's folder."""
        info = request.get("connection", {})
        if info.get("transport") != "ipc":
            return False
        try:
            return os.stat(os.path.dirname(info["ip"]) or ".").st_dev == os.stat(self.folder).st_dev
        except (OSError, KeyError, TypeError):
            return False

    def wait(self, timeout: float) -> bool:
        """Whether the spare has initialised, waiting up to ``timeout`` seconds for it."""
        if not self.ready:
            self.channel.settimeout(timeout)
            try:
                self.ready = self.channel.recv(len(READY)) == READY
            except OSError:  # timed out, or the spare is gone
                return False
        return self.ready

    def hand_over(self, request: dict, conn: socket.socket) -> bool:
        """Make the spare ``request``'s kernel, answering the launcher on ``conn``; False if it
        could not (the spare is then discarded, and the launcher has had no answer).

        The spare takes the request's key before its sockets get the request's paths: a
        client connecting earlier would get messages signed with the spare's own key (IOPub
        greets every new subscriber).
        """
        info = request["connection"]
        linked: list[str] = []
        try:
            socket.send_fds(self.channel, [json.dumps(request).encode()], [conn.fileno()])
            self.channel.settimeout(ADOPT_SECONDS)
            if self.channel.recv(len(ADOPTED)) != ADOPTED:
                raise ConnectionError("the spare did not take the request")
            for number, name in enumerate(CHANNELS, 1):
                target = f"{info['ip']}-{info[name]}"
                os.link(f"{self.ip}-{number}", target)  # never replaces a file: EEXIST instead
                linked.append(target)
            self.channel.sendall(GO)
        except (OSError, KeyError, TypeError, ValueError):
            for path in linked:
                _unlink(path)
            self.discard()
            return False
        self._unlink_sockets()
        self.channel.close()
        self.alive = False  # it is a kernel now, no longer this zygote's spare
        return True

    def discard(self) -> None:
        """Kill the spare and remove its files."""
        self.alive = False
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.channel.close()
        self._unlink_sockets()
        _unlink(f"{self.ip}.json")

    def _unlink_sockets(self) -> None:
        """Remove the spare's own names of its sockets (a kernel keeps the request's)."""
        for number in range(1, len(CHANNELS) + 1):
            _unlink(f"{self.ip}-{number}")


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _spare(channel: socket.socket, ip: str, env: dict, figures: bool, limits) -> None:
    """In the spare: initialise a kernel on sockets of its own, then wait for a request and
    become its kernel (or exit when the zygote closes the channel)."""
    from jupyter_client.connect import write_connection_file

    from autograder import sandbox, zygote

    sandbox.limit_kernel(*limits)
    zygote.fresh_process()
    os.environ.clear()
    os.environ.update(env)
    ports = dict(zip(CHANNELS, range(1, len(CHANNELS) + 1), strict=True))
    connection_file = f"{ip}.json"
    write_connection_file(connection_file, ip=ip, transport="ipc", **ports)
    app = zygote.kernel_app(connection_file, figures)
    wrote = {k: v for k, v in os.environ.items() if env.get(k) != v}
    removed = [k for k in env if k not in os.environ]
    channel.sendall(READY)
    try:
        message, fds, _flags, _address = socket.recv_fds(channel, MAX_REQUEST, 1)
    except OSError:  # the zygote is gone
        return
    if not fds:  # the zygote closed the channel (it discarded this spare, or it exited)
        return
    conn = socket.socket(fileno=fds[0])
    request = json.loads(message)
    _unlink(connection_file)
    zygote.enter(request)
    os.environ.update(wrote)  # what the initialisation set: it read the same variables
    for name in removed:
        os.environ.pop(name, None)
    _adopt(app, request)
    channel.sendall(ADOPTED)
    try:
        if channel.recv(len(GO)) != GO:  # the zygote could not give this spare the paths
            return
    except OSError:
        return
    channel.close()
    zygote.answer(conn)
    zygote.run_kernel(app, request)


def _adopt(app, request: dict) -> None:
    """Make the initialised ``app`` the kernel of ``request``'s connection file, in its
    working directory (already entered)."""
    info = request["connection"]
    session = app.session
    session.signature_scheme = info.get("signature_scheme", session.signature_scheme)
    session.key = str(info.get("key", "")).encode()
    app.connection_file = request["connection_file"]
    app.transport, app.ip = info["transport"], info["ip"]
    for name in CHANNELS:
        setattr(app, name, int(info[name]))
    shell = app.shell
    shell.starting_dir = os.getcwd()  # IPython keeps where it started, and a history of cd
    shell.history_manager.dir_hist[:] = [Path.cwd()]
