"""Drive JupyterLab the way a student meets it: a real server, headless Chromium, Playwright.

Used by tests/test_browser.py and docs/make_screenshots.py. Nothing here knows about a
particular chapter; the callers say which cells to fill and what to expect.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import course
from autograder.nbgrader_tools import make_course_dir, nbgrader_env, run_nbgrader

#: Debian's chromium; Playwright's own browser download is not used (and not reachable).
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-extensions",
    "--no-first-run",
    "--no-proxy-server",
]
#: talk to the local server directly, whatever proxy the environment names
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SERVER_START_TIMEOUT = 120  # s: a cold start imports jupyterlab and nbgrader
UI_TIMEOUT_MS = 60_000  # the page, menus, dialogs
RUN_TIMEOUT_MS = 300_000  # running a whole chapter, or nbgrader validate (a fresh kernel)

#: JupyterLab settings for a quiet, deterministic page: no news toast, every cell in the DOM.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


#: nbgrader config a student's machine could have in ~/.jupyter: Validate runs nbclient, which
#: waits only 4 s for a kernel's output after its reply; on a loaded CI machine that can fail a
#: cell that ran fine. (Read by the Validate handler from the Jupyter config path.)
NBGRADER_USER_CONFIG = """\
c = get_config()  # noqa: F821
c.Execute.iopub_timeout = 60
"""


def find_chromium() -> str | None:
    """The Chromium binary to drive: $CNN_CHROMIUM, else Debian's, else None."""
    configured = os.environ.get("CNN_CHROMIUM")
    if configured:
        return configured
    for path in CHROMIUM_CANDIDATES:
        if Path(path).exists():
            return path
    return shutil.which("chromium")


def artifacts_dir() -> Path:
    """Where screenshots go: $CNN_ARTIFACTS, default artifacts/browser/ in the repository."""
    folder = Path(os.environ.get("CNN_ARTIFACTS") or course.ROOT / "artifacts" / "browser")
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def student_release(workdir: Path, chapter: str) -> Path:
    """Generate a chapter's student version with nbgrader; return a folder holding only it.

    The folder looks like what a student is given: ``<chapter>/<topic>.ipynb``.
    """
    course_root = make_course_dir(workdir / "course", [chapter])
    run_nbgrader("generate_assignment", chapter, "--force", cwd=course_root)
    student = workdir / "student"
    shutil.copytree(course_root / "release" / chapter, student / chapter)
    return student


def free_port() -> int:
    """A free localhost port below Linux's ephemeral range (32768-60999).

    Ports from ``bind(0)`` come from the ephemeral range, where kernels started at the same
    time by other tests pick theirs too; a port chosen below it cannot be taken that way.
    """
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


def isolated_jupyter_env(home: Path) -> dict[str, str]:
    """nbgrader's environment with per-run Jupyter config, data, runtime and settings folders.

    The venv's own ``etc/jupyter`` and ``share/jupyter`` (where the nbgrader extensions and
    the python3 kernel are installed) are still read; the user's ~/.jupyter is not, so the
    test sees what the environment installs, and no workspace of an earlier session.
    """
    env = nbgrader_env()
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces",
        "IPYTHONDIR": home / "ipython",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_PREFER_ENV_PATH", None)
    return env


@dataclass
class LabServer:
    """A running ``jupyter lab``: its URL, token, root folder and log file."""

    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen

    def api(self, path: str, method: str = "GET") -> urllib.request.Request:
        return urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def jupyter_lab(root: Path, home: Path, tries: int = 3) -> Iterator[LabServer]:
    """Start ``jupyter lab`` on a free localhost port with a token; shut it down on exit.

    A port taken between choosing it and the server binding it costs one more try.
    """
    env = isolated_jupyter_env(home)
    settings = Path(env["JUPYTERLAB_SETTINGS_DIR"])
    for name, value in LAB_SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    (Path(env["JUPYTER_CONFIG_DIR"]) / "nbgrader_config.py").write_text(NBGRADER_USER_CONFIG)
    for attempt in range(1, tries + 1):
        server = _start(root, home, env)
        try:
            _wait_until_up(server)
        except PortTaken:
            _shut_down(server)
            if attempt == tries:
                raise
            continue
        except BaseException:
            _shut_down(server)
            raise
        break
    try:
        yield server
    finally:
        _shut_down(server)


class PortTaken(RuntimeError):
    """The server could not bind the port it was given."""


def _start(root: Path, home: Path, env: dict[str, str]) -> LabServer:
    port, token = free_port(), secrets.token_hex(16)
    log = home / f"jupyter-lab-{port}.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.allow_root=True",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with open(log, "w") as out:
        process = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return LabServer(f"http://127.0.0.1:{port}", token, root, log, process)


def _wait_until_up(server: LabServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log_tail()
            kind = PortTaken if "is not available" in tail else RuntimeError
            raise kind(f"jupyter lab exited early:\n{tail}")
        try:
            with NO_PROXY.open(server.api("/api/status"), timeout=5) as response:
                if response.status == 200 and server.process.poll() is None:
                    return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.5)
    raise TimeoutError(
        f"jupyter lab did not answer in {SERVER_START_TIMEOUT} s:\n{server.log_tail()}"
    )


def _shut_down(server: LabServer) -> None:
    """Ask the server to stop (it shuts its kernels down), then make sure it has."""
    if server.process.poll() is None:
        try:
            NO_PROXY.open(server.api("/api/shutdown", method="POST"), timeout=10).close()
        except (OSError, http.client.HTTPException):
            pass
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.terminate()
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


def reference_answers(chapter: str) -> dict[str, str]:
    """grade_id → the source notebook's solution with the BEGIN/END SOLUTION lines removed."""
    from autograder import fixtures

    source = nbformat.read(course.source_notebook(chapter), as_version=4)
    solved = fixtures.solved(source, source)
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in solved.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


def cell_index(notebook: Path, grade_id: str) -> int:
    """Position of the cell with this grade_id (the DOM shows cells in the same order)."""
    nb = nbformat.read(notebook, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(f"{notebook.name} has no cell {grade_id!r}")


def normalise(text: str) -> str:
    """Collapse whitespace (the browser wraps and indents what it renders)."""
    return re.sub(r"\s+", " ", text).strip()


class Notebook:
    """One notebook open in JupyterLab in a Playwright page."""

    def __init__(self, page, server: LabServer, relpath: str, shots: Path | None = None):
        self.page, self.server, self.relpath, self.shots = page, server, relpath, shots
        self.path = server.root / relpath
        self.panel = page.locator(".jp-NotebookPanel").first
        self.cells = self.panel.locator(".jp-Notebook .jp-Cell")
        self.steps: list[tuple[str, float]] = []  # (screenshot, seconds since the previous one)
        self._clock = time.monotonic()

    def open(self, cells: int) -> Notebook:
        """Open the notebook; wait for its ``cells`` cells to render and its kernel to idle."""
        self.page.goto(f"{self.server.url}/lab/tree/{self.relpath}?token={self.server.token}")
        self.panel.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
        self.page.wait_for_function(
            "n => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length == n",
            arg=cells,
            timeout=UI_TIMEOUT_MS,
        )
        self.wait_idle()
        return self

    def wait_idle(self, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
        """Wait until the kernel is connected and idle and no cell shows ``[*]``."""
        self.page.wait_for_function(
            """() => {
                const panel = document.querySelector('.jp-NotebookPanel');
                const status = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
                if (!status || status.getAttribute('data-status') !== 'idle') return false;
                const prompts = panel.querySelectorAll('.jp-InputArea-prompt');
                return [...prompts].every(p => !p.textContent.includes('*'));
            }""",
            timeout=timeout_ms,
            polling=250,
        )

    def menu(self, top: str, item: str) -> None:
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
        self.page.locator(
            ".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")
        ).first.click()

    def menu_items(self, top: str) -> list[str]:
        """The labels of a main-menu menu (closed again afterwards)."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
        labels = self.page.locator(".lm-Menu-content .lm-Menu-itemLabel")
        labels.first.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
        found = [t.strip() for t in labels.all_inner_texts() if t.strip()]
        self.page.keyboard.press("Escape")
        return found

    def run_all(self) -> None:
        """Run → Run All Cells, and wait until every cell has run (or the first error)."""
        prompt = ".jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt"
        before = self.page.locator(prompt).first.text_content()
        self.menu("Run", "Run All Cells")
        # Run All queues every cell at once: the first code cell's prompt changes (to [*], then
        # to a new count) before the kernel can be seen idle again.
        self.page.wait_for_function(
            """([selector, before]) => {
                const p = document.querySelector(selector);
                return p && p.textContent !== before;
            }""",
            arg=[prompt, before],
            timeout=RUN_TIMEOUT_MS,
        )
        self.wait_idle()

    def set_source(self, index: int, text: str) -> None:
        """Replace a cell's text as a paste would (no auto-indent, no bracket closing)."""
        editor = self.cells.nth(index).locator(".cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(text)
        self.page.keyboard.press("Escape")

    def save(self) -> nbformat.NotebookNode:
        """Save from the browser and return what landed on disk."""
        before = self.path.stat().st_mtime_ns
        self.page.keyboard.press("ControlOrMeta+s")
        # The server rewrites the file in place: wait for a new version that is complete.
        deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
        while True:
            if self.path.stat().st_mtime_ns != before:
                try:
                    return nbformat.read(self.path, as_version=4)
                except ValueError:  # nbformat.reader.NotJSONError
                    pass  # caught half-written
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.relpath} was not saved in {UI_TIMEOUT_MS} ms")
            time.sleep(0.2)

    def validate(self) -> tuple[str, str]:
        """Press nbgrader's Validate button; return (result kind, dialog text) and close it.

        The kind is the class nbgrader's dialog sets: ``validation-success``,
        ``validation-failed``, ``validation-changed``, ``validation-type-changed``, or
        ``error`` when the validate command itself failed.
        """
        self.panel.locator(".validate-button").click()
        dialog = self.page.locator(".jp-Dialog")
        dialog.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
        message = dialog.locator("#validation-message")
        message.wait_for(state="attached", timeout=UI_TIMEOUT_MS)
        classes = (message.get_attribute("class") or "").split()
        kind = next((c for c in classes if c.startswith("validation-")), "error")
        # a failure's message is the traceback's last line: show it in screenshots
        dialog.locator(".jp-Dialog-body").evaluate(
            "body => { body.scrollTop = body.scrollHeight; }"
        )
        return kind, message.inner_text()

    def close_dialog(self) -> None:
        dialog = self.page.locator(".jp-Dialog")
        dialog.locator(".jp-mod-accept").click()
        dialog.wait_for(state="detached", timeout=UI_TIMEOUT_MS)

    def scroll_to(self, index: int) -> None:
        self.cells.nth(index).scroll_into_view_if_needed()

    def screenshot(self, name: str) -> Path | None:
        """Keep a screenshot of the step that ends here, and how long the step took."""
        now = time.monotonic()
        self.steps.append((name, now - self._clock))
        self._clock = now
        if self.shots is None:
            return None
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def timings(self) -> str:
        return "\n".join(f"{seconds:7.1f} s  {name}" for name, seconds in self.steps)


@contextmanager
def chromium_page(width: int = 1280, height: int = 900) -> Iterator:
    """A Playwright page in headless Debian Chromium; browser and driver closed on exit."""
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        raise FileNotFoundError("no Chromium: apt-get install chromium (or set CNN_CHROMIUM)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            context.set_default_timeout(UI_TIMEOUT_MS)
            yield context.new_page()
            context.close()
        finally:
            browser.close()
