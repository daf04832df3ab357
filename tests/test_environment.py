"""Do environment.yml (conda) and requirements.txt (pip) name the same packages and versions?"""

from __future__ import annotations

import re

import yaml

from autograder import course

#: conda-forge names that differ from PyPI names
CONDA_TO_PIP = {"pytorch": "torch"}
#: pip-only wheels for what conda-forge packages build in
PIP_ONLY = {"psycopg-binary"}
NOT_PACKAGES = {"python", "pip"}


def conda_pins() -> dict[str, str]:
    env = yaml.safe_load((course.ROOT / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):  # the pip: section installs the course package itself
            assert dep == {"pip": ["-e ."]}, dep
            continue
        name, _, version = dep.partition("=")
        if name not in NOT_PACKAGES:
            pins[CONDA_TO_PIP.get(name, name).lower()] = version
    return pins


def pip_pins() -> dict[str, str]:
    pins = {}
    for line in (course.ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([\w.]+)", line)
            assert match, f"requirements.txt: pin every package exactly: {line!r}"
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_do_both_lists_hold_the_same_packages_and_versions():
    conda, pip = conda_pins(), pip_pins()
    assert sorted(conda.keys() - pip.keys()) == [], "only in environment.yml"
    assert sorted(pip.keys() - conda.keys() - PIP_ONLY) == [], "only in requirements.txt"
    assert {k: (conda[k], pip[k]) for k in conda if conda[k] != pip[k]} == {}


def test_is_python_311_and_torch_pinned_to_what_installs_here():
    env = yaml.safe_load((course.ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    assert pip_pins()["torch"] == "2.14.1" and pip_pins()["torchvision"] == "0.29.1"


def test_is_the_environment_we_run_in_the_pinned_one():
    from importlib.metadata import version

    mismatched = {
        name: (version(name), pinned)
        for name, pinned in pip_pins().items()
        if version(name).split("+")[0] != pinned
    }
    assert mismatched == {}
