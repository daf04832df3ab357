"""Are the student-facing messages pinned, well-formed and all in use?"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest

from autograder import course
from autograder import messages as M

GOLDEN = Path(__file__).parent / "golden" / "messages.json"
ALLOWED_FIELDS = {
    "name",
    "expected",
    "actual",
    "axis",
    "delta",
    "count",
    "total",
    "index",
    "max_diff",
    "tol",
    "function",
    "error",
    "detail",
    "limit",
    "seconds",
    "path",
    "grade_id",
}


def all_messages() -> dict[str, str]:
    return {k: v for k, v in vars(M).items() if k.isupper() and isinstance(v, str)}


def test_are_the_message_texts_pinned(update_goldens):
    """Run with --update-goldens after changing a message on purpose."""
    current = all_messages()
    if update_goldens:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(current, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    pinned = json.loads(GOLDEN.read_text())
    changed = sorted(k for k in current.keys() & pinned.keys() if current[k] != pinned[k])
    assert not changed, f"messages changed (rerun with --update-goldens if intended): {changed}"
    assert sorted(current.keys() - pinned.keys()) == [], "new messages are not pinned yet"
    assert sorted(pinned.keys() - current.keys()) == [], "pinned messages were removed"


@pytest.mark.parametrize("name", sorted(all_messages()))
def test_is_each_message_a_well_formed_template(name):
    text = all_messages()[name]
    fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
    assert fields <= ALLOWED_FIELDS, f"unknown placeholders {fields - ALLOWED_FIELDS}"
    assert text == text.rstrip() and text[-1] in ".?", "end with a full stop, no trailing space"
    assert len(text) < 400, "keep messages short: one or two sentences"


def test_is_every_chapter_hint_used_by_a_notebook_or_a_fixture():
    used = "\n".join(
        p.read_text(encoding="utf-8")
        for p in [*course.SOURCE.rglob("*.ipynb"), *course.MUTANTS.rglob("*.py")]
    )
    hints = [k for k in all_messages() if re.match(r"CH\d\d_", k)]
    unused = [k for k in hints if k not in used]
    assert not unused, f"chapter messages no test cell or fixture uses: {unused}"
