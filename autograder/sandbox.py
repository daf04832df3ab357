"""The sandbox every graded notebook runs in: bubblewrap (``bwrap``), no privileges needed.

Each grading worker runs its zygote (zygote.py) inside one ``bwrap`` sandbox, so every kernel
the zygote forks is inside it too:

* **no network** (``--unshare-net``: only a loopback of its own), own pid, IPC and UTS
  namespaces; the kernel's ZMQ channels are Unix sockets (``transport: ipc``) in the scratch
  folder, which the grader outside reaches through the file system;
* **a read-only view of the Python environment only**: the system folders, this interpreter's
  prefixes, the ``autograder`` package and the course's ``data/``. The course source, release,
  gradebook, every ``submitted``/``autograded`` folder and the instructor's home are not there;
* **writes only to the scratch folder**, seen inside as ``/sandbox`` (``work/`` is the kernel's
  working directory, filled with a copy of the student's own submission, ``home/``, ``tmp/``);
* **limits**: CPU seconds and processes per kernel (rlimits set in the kernel child), memory
  (the launcher, warmkernel.py), wall time (execute.py), and between two notebooks every
  process left in the sandbox is killed (the zygote sees only the sandbox's processes).

Run as root, bwrap would keep root's rights inside, so the zygote is given only the right to
change its user and drops to a per-worker unprivileged uid before it imports anything; as any
other user, bwrap maps that user into a new user namespace. This module uses only the standard
library: the zygote and the kernel launcher import it.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder import messages as M

INSIDE = "/sandbox"  #: where the scratch folder appears inside the sandbox
#: scratch sub-folders, emptied per submission (bridge/: the hardened grader's socket)
WRITABLE = ("work", "home", "tmp", "ipc", "bridge")
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("ld.so.cache", "ld.so.conf", "localtime", "nsswitch.conf", "alternatives")
SHM_BYTES = 64 << 20  #: /dev/shm is memory: small, and emptied with every reap
UID_BASE = 2_000_000_000  #: root grades as uid UID_BASE + worker pid: a uid nothing else uses
#: Environment variables a sandboxed process inherits from the grader (nothing secret).
KEEP_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "PYTHONHASHSEED",
    "CNN_DATA_DIR",
    "CNN_CIFAR_ROOT",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "JPY_SESSION_NAME",
)


class SandboxError(RuntimeError):
    """The sandbox cannot be set up; the message says why and how to fix it."""


def bwrap() -> str:
    """The bwrap executable, or SandboxError saying how to install it."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxError(M.SANDBOX_NO_BWRAP)
    return path


def readable_paths() -> list[Path]:
    """What a sandboxed kernel may read besides the system: Python, autograder, course data."""
    import autograder

    paths = {
        Path(p).resolve()
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    }
    paths.add(Path(autograder.__file__).resolve().parent)
    data = Path(
        os.environ.get("CNN_DATA_DIR", Path(autograder.__file__).resolve().parents[1] / "data")
    )
    # autograder.cifar.real_root(): the real CIFAR-10, when the machine has it
    cifar = Path(
        os.environ.get("CNN_CIFAR_ROOT", Path.home() / ".cache" / "cnn-foundations" / "cifar10")
    )
    paths.update(p.resolve() for p in (data, cifar) if p.exists())
    # a venv's interpreter may be a symlink into another installation (pyenv, /usr/local)
    paths.add(Path(os.path.realpath(sys.executable)).parent.parent)
    return sorted(p for p in paths if not any(q in p.parents for q in paths))


def bwrap_argv(
    ro: list[Path],
    rw: dict[Path, str],
    etc: Path,
    *,
    drop_to_uid: bool,
    uid: int,
) -> list[str]:
    """The bwrap command line (up to ``--``) for a sandbox with these binds.

    ``ro``: paths bound read-only at the same place; ``rw``: outside path -> inside path, bound
    read-write; ``etc``: a folder with the ``passwd`` and ``group`` files the sandbox sees.
    ``drop_to_uid`` (when running as root): bwrap keeps only CAP_SETUID/CAP_SETGID, for the
    command to drop to an unprivileged uid itself; otherwise bwrap maps the caller to ``uid``
    in a new user namespace, which the sandbox cannot nest.
    """
    argv = [bwrap(), "--die-with-parent", "--new-session"]
    argv += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--hostname", "sandbox"]
    if drop_to_uid:
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--disable-userns", "--uid", str(uid), "--gid", str(uid)]
    for top in SYSTEM:
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    argv += ["--proc", "/proc", "--dev", "/dev", "--dir", "/etc"]
    for name in ETC:
        if os.path.exists(f"/etc/{name}"):
            argv += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    argv += ["--ro-bind", str(etc / "passwd"), "/etc/passwd"]
    argv += ["--ro-bind", str(etc / "group"), "/etc/group"]
    parents: set[str] = set()
    for path in ro:
        argv += ["--ro-bind", str(path), str(path)]
        parents.update(str(p) for p in path.parents if str(p) != "/")
    for parent in sorted(parents - {str(p) for p in ro}):
        if not parent.startswith(SYSTEM):  # bwrap made it, with the outside's mode: let all in
            argv += ["--chmod", "0755", parent]
    for outside, inside in rw.items():
        argv += ["--bind", str(outside), inside]
    argv += ["--symlink", f"{INSIDE}/tmp", "/tmp"]
    argv += ["--perms", "1777", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
    argv += ["--chdir", "/"]
    return [*argv, "--"]


def kernel_env(env: dict[str, str]) -> dict[str, str]:
    """The environment of a sandboxed process: a few harmless variables, homes in scratch."""
    kept = {k: v for k, v in env.items() if k in KEEP_ENV or k.startswith("JPY_")}
    return {
        **kept,
        "HOME": f"{INSIDE}/home",
        "TMPDIR": f"{INSIDE}/tmp",
        "USER": "student",
        "LOGNAME": "student",
        "MPLCONFIGDIR": f"{INSIDE}/home/.config/matplotlib",
        "CNN_SANDBOXED": "1",
    }


def _empty(folder: Path) -> None:
    """Remove what is in ``folder`` without following links a student planted."""
    if folder.is_symlink() or not folder.is_dir():
        if folder.is_symlink() or folder.exists():
            folder.unlink()
        folder.mkdir()
        return
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


@dataclass
class Sandbox:
    """One worker's sandbox: a scratch folder and the bwrap command that runs a program in it."""

    folder: Path  # private to the grader: holds etc/ and scratch/; only scratch/ is bound

    def __post_init__(self) -> None:
        self.root = os.geteuid() == 0
        self.uid = UID_BASE + os.getpid() if self.root else os.getuid()
        self.scratch = self.folder / "scratch"
        self.etc = self.folder / "etc"

    def prepare(self) -> Sandbox:
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "passwd").write_text(
            "root:x:0:0:root:/nonexistent:/bin/false\n"
            f"student:x:{self.uid}:{self.uid}:student:{INSIDE}/home:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        )
        (self.etc / "group").write_text(f"root:x:0:\nstudent:x:{self.uid}:\nnogroup:x:65534:\n")
        self.scratch.mkdir(mode=0o755, exist_ok=True)
        self.reset(None)
        return self

    def argv(self, command: list[str]) -> list[str]:
        return (
            bwrap_argv(
                readable_paths(),
                {self.scratch: INSIDE},
                self.etc,
                drop_to_uid=self.root,
                uid=self.uid,
            )
            + command
        )

    def outside(self, inside: str) -> Path:
        """The outside path of a path under INSIDE."""
        return self.scratch / os.path.relpath(inside, INSIDE)

    def reset(self, submission: Path | None) -> None:
        """Empty the writable folders; put a copy of ``submission`` (a folder) in work/.

        Call it only when no sandboxed process is left (the zygote's ``reap``): the student's
        processes could otherwise race the copy.
        """
        for name in WRITABLE:
            _empty(self.scratch / name)
        if submission is not None:
            shutil.copytree(submission, self.scratch / "work", symlinks=True, dirs_exist_ok=True)
        if self.root:
            for name in WRITABLE:
                for dirpath, dirnames, filenames in os.walk(self.scratch / name):
                    for entry in [
                        dirpath,
                        *(os.path.join(dirpath, n) for n in dirnames + filenames),
                    ]:
                        os.chown(entry, self.uid, self.uid, follow_symlinks=False)
        for name in WRITABLE:
            os.chmod(self.scratch / name, stat.S_IRWXU)

    def check(self) -> None:
        """Start a sandboxed Python once; SandboxError with bwrap's own words if it fails."""
        uid = self.uid if self.root else -1
        command = [sys.executable, "-c", _PROBE, str(uid)]
        try:
            proc = subprocess.run(
                self.argv(command),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env=kernel_env(dict(os.environ)),
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SandboxError(M.SANDBOX_FAILED.format(detail=str(error))) from None
        if proc.returncode != 0 or proc.stdout.strip() != "ok":
            lines = (proc.stderr.strip() or f"exit status {proc.returncode}").splitlines()
            raise SandboxError(M.SANDBOX_FAILED.format(detail=lines[-1][:200]))


_PROBE = "import sys; from autograder import sandbox; sandbox.probe(int(sys.argv[1]))"


def probe(uid: int) -> None:
    """Inside a new sandbox: drop root's rights if asked, prove scratch is writable, say ok."""
    if uid >= 0:
        drop_privileges(uid)
    Path(INSIDE, "work", ".probe").write_text("ok")
    Path(INSIDE, "work", ".probe").unlink()
    print("ok")


def drop_privileges(uid: int) -> None:
    """Inside the sandbox, as root with only CAP_SETUID/CAP_SETGID: become ``uid`` for good."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)  # clears every capability: no way back
    if os.getuid() != uid or os.geteuid() != uid:
        raise SandboxError(M.SANDBOX_FAILED.format(detail="could not drop root's rights"))


def check() -> None:
    """Can this machine sandbox kernels? Raises SandboxError saying how to fix it if not."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="cnn-sandbox-check-"))
    try:
        Sandbox(folder).prepare().check()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def limit_kernel(cpu_seconds: int, max_processes: int) -> None:
    """In the forked kernel child: rlimits on CPU time, processes and core dumps."""
    import resource

    if cpu_seconds:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    if max_processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def reap_namespace() -> int:
    """Inside the sandbox's pid namespace: SIGKILL every process but pid 1 and this one.

    Returns how many were killed; waits (up to 2 s) until they are gone.
    """
    import signal
    import time

    me = os.getpid()

    def others() -> list[int]:
        pids = []
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in (1, me):
                try:
                    with open(f"/proc/{name}/stat") as f:
                        if f.read().rsplit(")", 1)[-1].split()[0] != "Z":
                            pids.append(int(name))
                except OSError:
                    continue
        return pids

    killed = 0
    deadline = time.monotonic() + 2
    while (pids := others()) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)
    _empty(Path("/dev/shm"))
    return killed
