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
    for verb in ("release", "selfcheck", "demo", "grade", "report"):
        assert verb in out


def test_is_a_verb_required():
    with pytest.raises(SystemExit):
        cli.main([])


def test_does_grade_refuse_an_unreleased_assignment_with_advice(tmp_path, capsys):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    assert cli.main(["grade", "ch01_pixels", "--root", str(tmp_path)]) == 2
    assert "generate_assignment ch01_pixels" in capsys.readouterr().err
