"""Making a kernel's tracebacks cheap: what IPython does for every error, done once or not twice.

Most graded notebooks have errors (blank or wrong work: ~3 per notebook over the course's
mutants, 15 in a blank ch06), and IPython 9 formats each with stack_data, twice. Measured in
ch06's kernels, they were a fifth of the kernels' time (a blank notebook's cells 0.92-1.04 s,
0.42-0.45 s with all of this):

* :func:`warm` (in the zygote, which the kernels inherit from): the first traceback's caches,
  and the check library's files parsed (stack_data parses a frame's file: ``ast.parse``,
  asttokens; 20-45 ms for ``autograder/checks.py``, in most failing test cells' frames);
* :func:`share_lexer` (in the zygote): stack_data highlights a frame's code through a lexer
  class it defines anew for every frame, so that pygments compiled the Python lexer's rules
  again each time (2-4 ms a frame);
* :func:`plain_history` (in each kernel): the second formatting, for the history, is the
  standard library's;
* :func:`cells_in_main` (in each kernel): ``inspect`` finds a cell's frame in ``__main__``
  instead of searching every module for it, several times per frame.

What a cell outputs is the same text (tests/test_tracebacks.py).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
import traceback

#: Modules whose files a kernel's tracebacks go through most: the check library test cells
#: call (its frames are hidden from the student, but stack_data parses them first), and the
#: bridge a hardened test's call of a student's function goes through. Counted in graded
#: notebooks (ch02, ch04, ch05, ch06 x 40, default settings): checks.py in the tracebacks of
#: 110 of 160, bridge.py of 15; devices.py (seeded blocks) of none, so it is not parsed here.
SOURCES = ("autograder.checks", "autograder.bridge")


def warm() -> None:
    """Format one traceback as a kernel would, and parse SOURCES' files, so that the kernels
    forked afterwards inherit the caches this fills.

    A kernel's first error otherwise maps the loaded modules to their files (``inspect``'s
    cache: the ~700 modules imported since torch's import last filled it, each path resolved
    with lstat calls) and builds the colour theme's pygments machinery: 80-95 ms, against
    13-20 ms for later tracebacks (measured in forked children; 35-55 ms with this). Call it
    after the last import.
    """
    try:
        import stack_data
        from ipykernel.zmqshell import ZMQInteractiveShell
        from IPython.core.ultratb import AutoFormattedTB
    except ImportError:
        return
    share_lexer()
    traits = ZMQInteractiveShell.class_traits()
    code = compile("def cell():\n    raise ValueError('warm-up')\ncell()\n", "<warm-up>", "exec")
    try:
        exec(code, {})
    except ValueError:
        formatter = AutoFormattedTB(
            mode=traits["xmode"].default(), theme_name=traits["colors"].default()
        )
        formatter.structured_traceback(*sys.exc_info())
    for name in SOURCES:
        path = getattr(sys.modules.get(name), "__file__", None)
        if not path:
            continue
        with contextlib.suppress(Exception):  # a warm-up: a kernel parses what this could not
            source = stack_data.Source.for_filename(path)
            source.pieces, source.tokens_by_lineno, source.asttext()  # cached on the source


def plain_history(shell) -> None:
    """Have ``shell`` keep the exceptions of its history as plain Python tracebacks.

    IPython 9 formats every exception of a cell twice: for the cell's output, and again, the
    same way, for its history (``history_manager.exceptions``, read only by the ``%notebook``
    magic): 45% of a kernel's time in tracebacks (ch06: ~3 errors per notebook, 15 in a blank
    one). The history gets :func:`traceback.format_exception`'s text instead, which needs no
    source parsing; what the cell outputs is unchanged.
    """
    if not callable(getattr(shell, "_format_exception_for_storage", None)):
        return

    def format_exception_for_storage(exception, filename=None, running_compiled_code=False):
        return {
            "ename": type(exception).__name__,
            "evalue": str(exception),
            "traceback": traceback.format_exception(exception),
        }

    shell._format_exception_for_storage = format_exception_for_storage


def cells_in_main(shell) -> None:
    """Have ``inspect`` find a cell's module (``__main__``) by the cell's file name.

    A cell's code has a file name that is on no disk (ipykernel keeps its source in
    linecache), so ``inspect.getmodule`` on a cell's frame found it in no module, and to
    make sure, walked all of ``sys.modules`` (~2700 modules here, ~1 ms) every time, several
    times per cell frame of a traceback: a failing check called from a cell took 9.7 ms to
    format, 3.9 ms with its cells mapped. The cell's code runs in ``__main__``, where its
    functions say they belong (their ``__module__``); the source is still read from
    linecache, so the tracebacks are the same text.
    """
    compiler = getattr(shell, "compile", None)
    cache = getattr(compiler, "cache", None)
    if cache is None or not isinstance(getattr(inspect, "modulesbyfile", None), dict):
        return

    @functools.wraps(cache)
    def cache_in_main(*args, **kwargs):
        name = cache(*args, **kwargs)
        for key in (name, os.path.normcase(os.path.abspath(name))):  # as getmodule looks it up
            inspect.modulesbyfile[key] = "__main__"
        return name

    compiler.cache = cache_in_main


def share_lexer() -> None:
    """Have stack_data highlight every frame with one lexer class rather than a new one each.

    ``stack_data.core._pygmented_with_ranges`` (stack_data 0.6) subclasses pygments' Python
    lexer on every call, so pygments processes the lexer's token definitions (``words()``
    into optimised regular expressions) for every frame of every traceback. The replacement
    is the same function with the subclass made once and the ranges kept on the instance.
    Left alone if stack_data no longer has the function (tests/test_tracebacks.py says so).
    """
    try:
        import stack_data.core as core
    except ImportError:
        return
    original = getattr(core, "_pygmented_with_ranges", None)
    if original is None or getattr(original, "shared_lexer", False):
        return

    def pygmented_with_ranges(formatter, code, ranges):
        import pygments

        lexer = _lexer_class()(stripnl=False)
        lexer.ranges = ranges
        try:
            highlighted = pygments.highlight(code, lexer, formatter)
        except Exception:
            # When pygments fails, prefer code without highlighting over crashing (as stack_data)
            highlighted = code
        return highlighted.splitlines()

    pygmented_with_ranges.shared_lexer = True
    core._pygmented_with_ranges = pygmented_with_ranges


@functools.cache
def _lexer_class():
    from pygments.lexers import get_lexer_by_name

    class RangesLexer(type(get_lexer_by_name("python3"))):
        """stack_data's MyLexer: the tokens inside ``self.ranges`` (the executing node)."""

        ranges: tuple[tuple[int, int], ...] = ()

        def get_tokens(self, text):
            length = 0
            for ttype, value in super().get_tokens(text):
                if any(start <= length < end for start, end in self.ranges):
                    ttype = ttype.ExecutingNode
                length += len(value)
                yield ttype, value

    return RangesLexer
