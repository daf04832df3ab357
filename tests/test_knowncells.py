"""Does a kernel that reuses the zygote's preprocessing get what IPython itself would give?"""

from __future__ import annotations

from types import SimpleNamespace

import ipykernel.compiler as compiler
import IPython.core.interactiveshell as interactiveshell
import pytest
from IPython.core.async_helpers import _should_be_async
from IPython.core.inputtransformer2 import TransformerManager

from autograder import knowncells

#: Cells IPython transforms (magics, shell escapes, help, top-level await) and one it leaves.
CELLS = [
    "%time x = 1\n",
    "files = !ls\nprint(files)\n",
    "len?\n",
    "%%capture out\nprint(1)\n",
    "import asyncio\nawait asyncio.sleep(0)\n",
    "a = 1\nb = a != 2  # no escape\nprint(f'{a % 2}')\n",
]


@pytest.fixture
def kernel(monkeypatch):
    """A shell's transformer manager after knowncells.reuse, with CELLS learned; the module
    globals reuse() replaces are put back afterwards."""
    monkeypatch.setattr(knowncells, "_TRANSFORMED", {})
    monkeypatch.setattr(knowncells, "_AWAITS", {})
    monkeypatch.setattr(knowncells, "_HASHES", {})
    monkeypatch.setattr(knowncells, "REUSED", knowncells.Counter())
    monkeypatch.setattr(interactiveshell, "_should_be_async", _should_be_async)
    monkeypatch.setattr(compiler, "murmur2_x86", compiler.murmur2_x86)
    assert knowncells.learn(CELLS) == len(CELLS)
    shell = SimpleNamespace(input_transformer_manager=TransformerManager())
    knowncells.reuse(shell)
    return shell.input_transformer_manager


def test_is_every_result_of_a_learned_cell_the_one_ipython_computes(kernel):
    fresh = TransformerManager()
    seed = compiler.get_tmp_hash_seed()
    for cell in CELLS:
        transformed = kernel.transform_cell(cell)
        assert transformed == fresh.transform_cell(cell)
        assert interactiveshell._should_be_async(transformed) == _should_be_async(transformed)
        assert compiler.get_file_name(cell).endswith(f"{knowncells._HASHES[(cell, seed)]}.py")
    assert interactiveshell._should_be_async(kernel.transform_cell(CELLS[4])) is True
    assert knowncells.REUSED == {
        "transform_cell": len(CELLS) + 1,
        "should_be_async": len(CELLS) + 1,
        "murmur2_x86": len(CELLS),
    }


def test_is_a_cell_not_learned_preprocessed_by_ipython_itself(kernel):
    cell = "y = 2\n%who\n"
    assert kernel.transform_cell(cell) == TransformerManager().transform_cell(cell)
    assert interactiveshell._should_be_async("await x\n") is True
    assert knowncells.REUSED == {}


def test_does_a_transformer_the_kernel_registers_apply_to_learned_cells_too(kernel):
    """Code may add its own input transformer: from then on no cell comes from the zygote."""

    def shout(lines):
        return [line.replace("print(1)", "print(2)") for line in lines]

    kernel.cleanup_transforms.append(shout)
    assert "print(2)" in kernel.transform_cell(CELLS[3])
    kernel.cleanup_transforms.remove(shout)
    assert "print(1)" in kernel.transform_cell(CELLS[3])
    assert knowncells.REUSED["transform_cell"] == 1


def test_does_a_kernel_without_learned_cells_keep_ipython_untouched(monkeypatch):
    monkeypatch.setattr(knowncells, "_TRANSFORMED", {})
    manager = TransformerManager()
    before = (manager.transform_cell, interactiveshell._should_be_async, compiler.murmur2_x86)
    knowncells.reuse(SimpleNamespace(input_transformer_manager=manager))
    after = (manager.transform_cell, interactiveshell._should_be_async, compiler.murmur2_x86)
    assert after == before
