"""Where the course lives: the repository root, its chapters, its data."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBGRADER_CONFIG = ROOT / "nbgrader_config.py"
SOURCE = ROOT / "notebooks"
MUTANTS = ROOT / "tests" / "fixtures" / "mutants"
ALTERNATIVES = ROOT / "tests" / "fixtures" / "alternatives"


class _Config:
    """Stands in for traitlets' config object when we only want CHAPTERS from the file."""

    def __getattr__(self, name: str) -> _Config:
        value = _Config()
        object.__setattr__(self, name, value)
        return value


def chapters() -> list[str]:
    """The assignments declared in nbgrader_config.py, in teaching order."""
    namespace = runpy.run_path(str(NBGRADER_CONFIG), init_globals={"get_config": _Config})
    return list(namespace["CHAPTERS"])


def existing_chapters() -> list[str]:
    """The declared chapters whose source notebook exists already."""
    return [ch for ch in chapters() if source_notebook(ch) is not None]


def source_notebook(chapter: str) -> Path | None:
    """The one source notebook of a chapter, or None if the chapter has none yet."""
    found = sorted((SOURCE / chapter).glob("*.ipynb"))
    return found[0] if found else None


def data_dir() -> Path:
    """The course's data folder: $CNN_DATA_DIR if set, else data/ in the repository."""
    return Path(os.environ.get("CNN_DATA_DIR", ROOT / "data"))


def data_file(name: str) -> Path:
    """A file in the data folder, with an error that says where it was looked for."""
    path = data_dir() / name
    if not path.exists():
        raise FileNotFoundError(
            f"{name} is not in {data_dir()}. Run the notebook from a clone of the course"
            " repository, or set CNN_DATA_DIR to the folder that holds the course data."
        )
    return path
