"""Warm kernels for the grader: a zygote process and the ``cnn-warm`` kernelspec that uses it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "cnn-warm"


class WarmKernels:
    """Own one zygote (see zygote.py) and a kernelspec folder pointing kernels at it."""

    def __init__(self, memory_mb: int = 0) -> None:
        self.memory_mb = memory_mb
        self.folder = Path(tempfile.mkdtemp(prefix="cnn-warm-"))
        self.socket = self.folder / "zygote.sock"
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 180.0) -> WarmKernels:
        spec = self.folder / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        kernel = {
            "argv": [sys.executable, "-m", "autograder.warmkernel", "-f", "{connection_file}"],
            "display_name": "Python 3 (warm, CNN Foundations grader)",
            "language": "python",
            "interrupt_mode": "signal",
            "env": {"CNN_ZYGOTE": str(self.socket), "CNN_KERNEL_MEMORY_MB": str(self.memory_mb)},
        }
        (spec / "kernel.json").write_text(json.dumps(kernel, indent=1))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.zygote", str(self.socket)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(
                "the warm-kernel zygote did not start (see python -m autograder.zygote)"
            )
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            p for p in (str(self.folder), os.environ.get("JUPYTER_PATH", "")) if p
        )
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
