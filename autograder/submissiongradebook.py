"""nbgrader's Gradebook for one submitted notebook, whose per-cell lookups are read at once.

nbgrader's OverwriteCells and SaveAutoGrades look up the gradebook row of every cell they
visit, one query each (a join of up to seven tables): the source cell of each nbgrader cell and
the graded cell of each test, then the grade of each test and the comment of each solution:
56 queries for ch03's notebook (21 nbgrader cells, 14 of them graded). A SubmissionGradebook
reads each kind of row for the whole notebook with the first lookup of that kind (the same
joins, without the cell's name) and answers the others from it. A name it did not read goes to
nbgrader's own query, which raises the same ``MissingEntry`` as before. The rows are the
session's own objects, so a change to a grade is saved by the next commit as before.
"""

from __future__ import annotations

from collections.abc import Callable

from nbgrader.api import (
    Assignment,
    Comment,
    Grade,
    Gradebook,
    GradeCell,
    Notebook,
    SolutionCell,
    SourceCell,
    Student,
    SubmittedAssignment,
    SubmittedNotebook,
    TaskCell,
)


class SubmissionGradebook(Gradebook):
    """A Gradebook whose ``find_source_cell``, ``find_graded_cell``, ``find_grade`` and
    ``find_comment`` answer from one query per kind of row and notebook; the result of each is
    nbgrader's (a GradeCell before a TaskCell of the same name, a SolutionCell's comment before a
    TaskCell's)."""

    def __init__(self, db_url: str, **kwargs) -> None:
        super().__init__(db_url, **kwargs)
        self._read: dict[tuple, dict] = {}  # (kind, notebook, assignment[, student]) -> name -> row

    def _rows(self, key: tuple, read: Callable[[], dict]) -> dict:
        if key not in self._read:
            self._read[key] = read()
        return self._read[key]

    def _cells(self, cell_class, notebook: str, assignment: str) -> dict:
        query = (
            self.db.query(cell_class)
            .join(Notebook, Notebook.id == cell_class.notebook_id)
            .join(Assignment, Assignment.id == Notebook.assignment_id)
            .filter(Notebook.name == notebook, Assignment.name == assignment)
        )
        return {cell.name: cell for cell in query}

    def _submitted(self, row_class, cell_class, notebook: str, assignment: str, student: str):
        query = (
            self.db.query(cell_class.name, row_class)
            .select_from(row_class)
            .join(cell_class, cell_class.id == row_class.cell_id)
            .join(SubmittedNotebook, SubmittedNotebook.id == row_class.notebook_id)
            .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
            .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
            .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
            .join(Student, Student.id == SubmittedAssignment.student_id)
            .filter(Notebook.name == notebook, Assignment.name == assignment, Student.id == student)
        )
        return dict(query.all())

    def find_source_cell(self, name: str, notebook: str, assignment: str) -> SourceCell:
        key = ("source", notebook, assignment)
        cells = self._rows(key, lambda: self._cells(SourceCell, notebook, assignment))
        if name in cells:
            return cells[name]
        return super().find_source_cell(name, notebook, assignment)

    def find_graded_cell(self, name: str, notebook: str, assignment: str) -> GradeCell | TaskCell:
        def read() -> dict:
            return self._cells(TaskCell, notebook, assignment) | self._cells(
                GradeCell, notebook, assignment
            )

        cells = self._rows(("graded", notebook, assignment), read)
        if name in cells:
            return cells[name]
        return super().find_graded_cell(name, notebook, assignment)

    def find_grade(self, grade_cell: str, notebook: str, assignment: str, student: str) -> Grade:
        def read() -> dict:
            ids = (notebook, assignment, student)
            return self._submitted(Grade, TaskCell, *ids) | self._submitted(Grade, GradeCell, *ids)

        grades = self._rows(("grade", notebook, assignment, student), read)
        if grade_cell in grades:
            return grades[grade_cell]
        return super().find_grade(grade_cell, notebook, assignment, student)

    def find_comment(
        self, solution_cell: str, notebook: str, assignment: str, student: str
    ) -> Comment:
        def read() -> dict:
            ids = (notebook, assignment, student)
            return self._submitted(Comment, TaskCell, *ids) | self._submitted(
                Comment, SolutionCell, *ids
            )

        comments = self._rows(("comment", notebook, assignment, student), read)
        if solution_cell in comments:
            return comments[solution_cell]
        return super().find_comment(solution_cell, notebook, assignment, student)
