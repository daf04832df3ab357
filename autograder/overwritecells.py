"""nbgrader's OverwriteCells over a :class:`~autograder.submissiongradebook.SubmissionGradebook`:
the notebook's source and graded cells read in three queries rather than one or two per cell
(ch03: 3 rather than 35). The cells are checked and restored by nbgrader's own code."""

from __future__ import annotations

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import OverwriteCells

from autograder.submissiongradebook import SubmissionGradebook


class PrefetchedOverwriteCells(OverwriteCells):
    """OverwriteCells (same checks, changes and log) with the notebook's cells read at once."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        # nbgrader's OverwriteCells.preprocess, with another gradebook class
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = SubmissionGradebook(self.db_url)
        with self.gradebook:
            nb, resources = super(OverwriteCells, self).preprocess(nb, resources)
            if self.add_missing_cells:
                nb, resources = self.add_missing_grade_cells(nb, resources)
                nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources
