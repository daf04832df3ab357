"""Does the trusted kernel keep every teaching cell a test can depend on, and skip the rest?"""

from __future__ import annotations

import nbformat
import pytest

from autograder import course
from autograder.cellgraph import cell_names, needed_cells
from autograder.hardened import is_solution_cell, is_test_cell

IMPORTS = "import torch\nimport matplotlib.pyplot as plt"
TEST = True


def kept(*cells: tuple[str, bool]) -> list[str]:
    """The first lines of the teaching cells kept."""
    sources = [source for source, _ in cells]
    keep = needed_cells(sources, [test for _, test in cells])
    return [sources[i].splitlines()[0] for i in sorted(keep)]


def test_is_a_cell_that_only_draws_skipped_and_one_defining_test_data_kept():
    assert kept(
        (IMPORTS, False),
        ("X = torch.ones(3)", False),
        ("fig, ax = plt.subplots()\nax.imshow(torch.zeros(2, 2))\nplt.show()", False),
        ("Y = torch.zeros(2)\nprint(Y)", False),
        ("check(corr2d(X), 3)", TEST),
    ) == ["import torch", "X = torch.ones(3)"]


def test_are_helpers_kept_with_what_they_use_even_when_defined_later():
    assert kept(
        (IMPORTS, False),
        ("def helper():\n    return scale * base", False),
        ("unused = 1", False),
        ("base = torch.ones(2)", False),
        ("scale = 3", False),
        ("check(helper())", TEST),
    ) == ["import torch", "def helper():", "base = torch.ones(2)", "scale = 3"]


@pytest.mark.parametrize(
    "change",
    [
        "X[0] = 5",
        "X.data.zero_()",
        "X.weight = None",
        "train(X, 3)",
        "X += 1",
        "del X",
        "for X in range(3):\n    pass",
    ],
)
def test_is_a_cell_that_may_change_a_needed_name_kept(change):
    assert change.splitlines()[0] in kept(
        (IMPORTS, False), ("X = torch.ones(3)", False), (change, False), ("check(X)", TEST)
    )


@pytest.mark.parametrize(
    "effect",
    [
        "torch.manual_seed(0)",
        "np.random.seed(1)",
        "torch.set_default_dtype(torch.float64)",
        "warnings.filterwarnings('ignore')",
        "sys.path.append('lib')",
        "os.environ['X'] = '1'",
        "torch.save(torch.ones(1), 'w.pt')",
        "%matplotlib inline",
        "exec('Z = 1')",
        "import random",
        "def f():\n    global Z\n    Z = 1\nf()",
        "reseed(3)",  # a notebook function that seeds: see below
        "def broken(:",
    ],
)
def test_are_cells_with_global_effects_kept(effect):
    cells = (
        ("import torch, numpy as np, warnings, sys, os", False),
        ("def reseed(s):\n    torch.manual_seed(s)", False),
        (effect, False),
        ("check(1)", TEST),
    )
    assert effect.splitlines()[0] in kept(*cells)


def test_do_a_tests_own_variables_need_no_teaching_cell():
    """Names a test binds before use, loop variables, locals of its helpers: not reads."""
    test = (
        "X = torch.rand(3)\n"
        "for K, n in [(1, 2)]:\n"
        "    check(corr2d(X, K), n)\n"
        "def _real(layer):\n"
        "    count = sum(p.numel() for p in layer.parameters())\n"
        "    return count\n"
        "with ctx() as out:\n"
        "    print(out, [v for v in range(3)])"
    )
    names = cell_names(test, {"torch"})
    assert names is not None
    assert not names.reads & {"X", "K", "n", "count", "p", "layer", "out", "v"}
    assert kept(
        (IMPORTS, False),
        ("X = torch.ones(3)\nK = 1\nn = 2\ncount = 0\nout = None\nv = 1", False),
        (test, TEST),
    ) == ["import torch"]


def test_does_a_test_that_looks_names_up_dynamically_keep_every_cell():
    cells = [(IMPORTS, False), ("X = 1", False), ("plt.plot([1])", False)]
    everything = ["import torch", "X = 1", "plt.plot([1])"]
    assert kept(*cells, ("check(globals()['X'])", TEST)) == everything
    assert kept(*cells, ("check(X", TEST)) == everything  # a test that does not parse


@pytest.mark.parametrize("chapter", course.existing_chapters())
def test_is_every_name_a_chapter_test_reads_from_a_teaching_cell_still_defined(chapter):
    """For each test cell, the names it reads that teaching cells before it bind: the trusted
    kernel must run one of those cells, or the test would take the student's version."""
    (path,) = (course.SOURCE / chapter).glob("*.ipynb")
    cells = [
        c
        for c in nbformat.read(path, as_version=4).cells
        if c.cell_type == "code" and not is_solution_cell(c)
    ]
    tests = [is_test_cell(c) for c in cells]
    keep = needed_cells([c.source for c in cells], tests)
    modules = {"torch"}
    names = [cell_names(c.source, modules) for c in cells]
    for t, test in enumerate(tests):
        if not test:
            continue
        for name in names[t].reads:
            binders = [i for i in range(t) if not tests[i] and name in names[i].binds]
            assert not binders or set(binders) & keep, f"{chapter}: {name} needs one of {binders}"
    teaching = [i for i, test in enumerate(tests) if not test]
    assert keep < set(teaching), "nothing is skipped"
