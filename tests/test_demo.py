"""Does the demo grade its three example students and print the table?"""

from __future__ import annotations

import csv

import pytest

from autograder.demo import demo, grade_table


def test_is_the_grade_table_one_row_per_student(tmp_path):
    path = tmp_path / "grades.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["assignment", "student_id", "score", "max_score"])
        w.writeheader()
        w.writerow(
            {"assignment": "ch01_pixels", "student_id": "alice", "score": 14, "max_score": 14}
        )
        w.writerow(
            {"assignment": "ch01_pixels", "student_id": "bob", "score": 8.5, "max_score": 14}
        )
    lines = grade_table(path).splitlines()
    assert lines[0].split() == ["student", "ch01_pixels"]
    assert lines[1].split() == ["alice", "14/14"] and lines[2].split() == ["bob", "8.5/14"]


@pytest.mark.slow
def test_does_the_demo_grade_correct_partly_wrong_and_blank(tmp_path):
    table = demo(["ch01_pixels"], root=tmp_path / "demo")
    rows = {line.split()[0]: line.split()[1] for line in table.splitlines()[1:]}
    assert rows["alice"] == "14/14" and rows["carol"] == "0/14"
    bob = float(rows["bob"].split("/")[0])
    assert 0 < bob < 14
    assert (tmp_path / "demo" / "feedback" / "alice" / "ch01_pixels" / "pixels.html").exists()
