"""IPython's preprocessing of the cells every submission shares, done once in the zygote.

Before IPython runs a cell it transforms its text (``%magic``, ``!cmd``, ``obj?``: the whole
cell tokenised in pure Python), compiles it once more to see whether it needs ``await`` at the
top level, and ipykernel hashes its text in pure Python to name its file. For a chapter
(ch06: 38 cells, 40 000 characters) that is ~50 ms of CPU in every kernel, for text that is
the same in every submission: the teaching cells and the tests.

The zygote learns the instructor's cells (:func:`learn`, with the same functions a kernel
would call) before it forks; a forked kernel (:func:`reuse`) looks a cell up by its exact text
and falls back on IPython's own work for any other text (a student's answer), or when the
kernel's input transformers are no longer IPython's defaults (code may register its own).
The results are the same by construction: the same functions of the same text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

_TRANSFORMED: dict[str, str] = {}  #: raw cell -> TransformerManager.transform_cell(raw cell)
_AWAITS: dict[str, bool] = {}  #: transformed cell -> _should_be_async(transformed cell)
_HASHES: dict[tuple[str, int], int] = {}  #: (raw cell, seed) -> murmur2_x86(raw cell, seed)

#: How often a forked kernel reused each kind of result (for tests and curious instructors).
REUSED: Counter[str] = Counter()


def _transforms(manager) -> tuple[list, list, list]:
    return (
        list(manager.cleanup_transforms),
        list(manager.line_transforms),
        list(manager.token_transformers),
    )


def learn(sources: Iterable[str]) -> int:
    """In the zygote: preprocess ``sources`` as a kernel would; how many cells were learned.

    A cell IPython cannot transform is left out: the kernel reports the error itself.
    """
    from ipykernel.compiler import get_tmp_hash_seed, murmur2_x86
    from IPython.core.async_helpers import _should_be_async
    from IPython.core.inputtransformer2 import TransformerManager

    manager = TransformerManager()
    seed = get_tmp_hash_seed()
    for source in sources:
        if source in _TRANSFORMED:
            continue
        try:
            transformed = manager.transform_cell(source)
        except Exception:
            continue
        _TRANSFORMED[source] = transformed
        _AWAITS[transformed] = _should_be_async(transformed)
        _HASHES[(source, seed)] = murmur2_x86(source, seed)
    return len(_TRANSFORMED)


def reuse(shell) -> None:
    """In a forked kernel, once its shell exists: use what the zygote learned."""
    if not _TRANSFORMED:
        return
    import ipykernel.compiler as compiler
    import IPython.core.interactiveshell as interactiveshell
    from IPython.core.inputtransformer2 import TransformerManager

    manager = shell.input_transformer_manager
    defaults = _transforms(TransformerManager())
    transform_cell = manager.transform_cell

    def known_transform_cell(cell):
        known = _TRANSFORMED.get(cell)
        if known is None or _transforms(manager) != defaults:
            return transform_cell(cell)
        REUSED["transform_cell"] += 1
        return known

    should_be_async = interactiveshell._should_be_async

    def known_should_be_async(cell):
        known = _AWAITS.get(cell)
        if known is None:
            return should_be_async(cell)
        REUSED["should_be_async"] += 1
        return known

    murmur2_x86 = compiler.murmur2_x86

    def known_murmur2_x86(data, seed):
        known = _HASHES.get((data, seed))
        if known is None:
            return murmur2_x86(data, seed)
        REUSED["murmur2_x86"] += 1
        return known

    manager.transform_cell = known_transform_cell
    interactiveshell._should_be_async = known_should_be_async  # looked up at each call
    compiler.murmur2_x86 = known_murmur2_x86
