"""nbgrader's SaveAutoGrades over a :class:`~autograder.submissiongradebook.SubmissionGradebook`,
committed once per notebook.

nbgrader looks up each graded cell's grade and each solution cell's comment, and commits after
each: a query and a commit per cell (ch03: 21 of each). Every commit also expires the session's
objects, so the next lookup loads them again. Here the notebook's grades and comments are read
in four queries, nbgrader's own ``_add_score`` and ``_add_comment`` set their fields, and one
commit saves them all: the same rows with the same values, written together, so a grader killed
mid-notebook leaves none of them half-saved.
"""

from __future__ import annotations

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import SaveAutoGrades

from autograder.submissiongradebook import SubmissionGradebook


class _CommitAtEnd:
    """A session whose ``commit`` waits for the end of the notebook; the rest is the session's."""

    def __init__(self, session) -> None:
        self._session = session

    def commit(self) -> None:
        pass

    def __getattr__(self, name: str):
        return getattr(self._session, name)


class BatchedSaveAutoGrades(SaveAutoGrades):
    """SaveAutoGrades (same grades, comments and review flags) with one commit per notebook."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        # nbgrader's SaveAutoGrades.preprocess, with another gradebook and one commit
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = SubmissionGradebook(self.db_url)
        with self.gradebook:
            session = self.gradebook.db
            self.gradebook.db = _CommitAtEnd(session)
            try:
                nb, resources = super(SaveAutoGrades, self).preprocess(nb, resources)
            finally:
                self.gradebook.db = session
            session.commit()
        return nb, resources
