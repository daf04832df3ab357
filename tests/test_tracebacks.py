"""Are a kernel's tracebacks the same text, and cheaper, with what the zygote prepares?"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

stack_data_core = pytest.importorskip("stack_data.core")

from autograder import tracebacks  # noqa: E402

#: Formats a failing check called from "cell" code (a file only linecache knows, as IPython's
#: cells are), with the kernel's formatter; prints the files stack_data parsed for it, then
#: the traceback. argv[1]: "warm" to call tracebacks.warm() first.
FORMAT = """\
import linecache, sys
import stack_data
import autograder.checks  # preloaded by the zygote, before it calls warm()
from autograder import tracebacks
if sys.argv[1] == "warm":
    tracebacks.warm()
parsed = []
init = stack_data.Source.__init__
def recording(self, filename, lines):
    parsed.append(filename)
    init(self, filename, lines)
stack_data.Source.__init__ = recording
from ipykernel.zmqshell import ZMQInteractiveShell
from IPython.core.ultratb import AutoFormattedTB
traits = ZMQInteractiveShell.class_traits()
formatter = AutoFormattedTB(mode=traits["xmode"].default(), theme_name=traits["colors"].default())
source = "from autograder.checks import check_equal\\ncheck_equal(1 + 1, 3, 'one plus one')\\n"
name = "/nonexistent/ipykernel_0/cell.py"
linecache.cache[name] = (len(source), None, source.splitlines(True), name)
try:
    exec(compile(source, name, "exec"), {})
except AssertionError:
    text = "\\n".join(formatter.structured_traceback(*sys.exc_info()))
print(sorted(set(parsed)))
print(text)
"""


def format_check_failure(warm: bool) -> tuple[list[str], str]:
    out = subprocess.run(
        [sys.executable, "-c", FORMAT, "warm" if warm else "cold"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    parsed, _, text = out.partition("\n")
    return eval(parsed), text  # a list of paths, printed by repr


def test_does_warm_parse_the_check_library_once_for_every_kernel_without_changing_a_traceback():
    """A kernel forked after warm() finds autograder/checks.py already parsed (a failing test
    cell's frames go through it); the traceback it formats is the same text."""
    from autograder import checks

    cold_parsed, cold = format_check_failure(warm=False)
    warm_parsed, warm = format_check_failure(warm=True)
    assert checks.__file__ in cold_parsed  # without warm(), the first error parses it
    assert checks.__file__ not in warm_parsed
    assert warm == cold
    plain = re.sub(r"\x1b\[[0-9;]*m", "", warm)
    assert "\x1b[" in warm and "CheckFailure" in plain and "one plus one" in plain


def test_does_the_shared_lexer_highlight_as_stack_data_does(monkeypatch):
    """The same highlighted lines as stack_data's own function, executing node included, from
    one lexer class for every call."""
    from pygments.formatters.terminal256 import Terminal256Formatter
    from stack_data import style_with_executing_node

    original = stack_data_core._pygmented_with_ranges
    monkeypatch.setattr(stack_data_core, "_pygmented_with_ranges", original)  # undone after
    formatter = Terminal256Formatter(style=style_with_executing_node("default", "bg:ansired"))
    code = "def f(x):\n    y = [x] * 2  # comment\n    return g(y, 'text')\n"
    expected = [original(formatter, code, ranges) for ranges in ([(40, 49)], [], [(0, 3)])]
    tracebacks.share_lexer()
    shared = stack_data_core._pygmented_with_ranges
    assert shared is not original
    got = [shared(formatter, code, ranges) for ranges in ([(40, 49)], [], [(0, 3)])]
    assert got == expected and got[0] != got[1]  # the range is highlighted
    tracebacks.share_lexer()  # a second call keeps the first replacement
    assert stack_data_core._pygmented_with_ranges is shared
    assert tracebacks._lexer_class() is tracebacks._lexer_class()


def test_does_plain_history_keep_plain_tracebacks_in_the_history_only():
    """The shell's history gets the standard library's traceback text; the cell's own output
    is IPython's (coloured) traceback, as before."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        tracebacks.plain_history(shell)
        shown = []
        shell._showtraceback = lambda etype, evalue, stb: shown.append(stb)
        result = shell.run_cell("def f():\n    return 1 / 0\nf()", store_history=True)
        assert isinstance(result.error_in_exec, ZeroDivisionError)
        stored = shell.history_manager.exceptions[result.execution_count]
        assert stored["ename"] == "ZeroDivisionError" and stored["evalue"] == "division by zero"
        text = "".join(stored["traceback"])
        assert text.startswith("Traceback (most recent call last)") and "\x1b[" not in text
        assert "return 1 / 0" in text
        assert shown and "\x1b[" in "\n".join(shown[0])  # what the cell outputs: unchanged
    finally:
        InteractiveShell.clear_instance()


def shown_traceback(source: str, mapped: bool) -> tuple[str, object]:
    """What a fresh shell shows for ``source`` (its last line fails), and the module inspect
    finds for the failing cell's frame."""
    import inspect

    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    try:
        if mapped:
            tracebacks.cells_in_main(shell)
        shown = []
        shell._showtraceback = lambda etype, evalue, stb: shown.append("\n".join(stb))
        for cell in source.split("\n\n"):
            result = shell.run_cell(cell, store_history=True)
        tb, cells = result.error_in_exec.__traceback__, shell.compile._filename_map
        while tb.tb_frame.f_code.co_filename not in cells:  # IPython's own frames first
            tb = tb.tb_next
        return shown[-1], inspect.getmodule(tb.tb_frame)
    finally:
        InteractiveShell.clear_instance()


def test_are_cells_found_in_main_with_the_same_tracebacks():
    """inspect.getmodule finds a cell's frame in __main__ (it searched every module, and found
    none, for each call); the traceback through two cells and the check library is the same."""
    import sys

    source = (
        "from autograder.checks import call, check_equal\n"
        "def student(x):\n    return x * 2\n\n"
        "check_equal(call(student, 2), 5, 'student(2)')"
    )
    plain, module = shown_traceback(source, mapped=False)
    mapped, mapped_module = shown_traceback(source, mapped=True)
    assert module is None and mapped_module is sys.modules["__main__"]
    assert mapped == plain and "student(2)" in plain
