"""Does the command line parse verbs and reject unknown chapters helpfully?"""

from __future__ import annotations

import pytest

from autograder import cli


def test_is_an_unknown_chapter_rejected_with_the_list_of_chapters():
    with pytest.raises(SystemExit, match="ch01_pixels"):
        cli.main(["selfcheck", "ch99_nothing"])


def test_does_every_verb_have_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for verb in ("release", "selfcheck", "demo"):
        assert verb in out


def test_is_a_verb_required():
    with pytest.raises(SystemExit):
        cli.main([])
