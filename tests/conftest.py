"""Shared fixtures: a throwaway course directory per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder import course


@pytest.fixture
def course_root(tmp_path: Path) -> Path:
    """An empty nbgrader course directory with the project's config."""
    (tmp_path / "nbgrader_config.py").write_text(course.NBGRADER_CONFIG.read_text())
    return tmp_path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite the golden files under tests/golden/ from the current code",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))
