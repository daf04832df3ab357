"""nbgrader's CheckCellMetadata, without re-checking the JSON schema for every cell.

nbgrader validates each cell's ``nbgrader`` metadata with ``jsonschema.validate``, which first
checks that the *schema* itself is valid: a whole meta-schema pass per cell, twice per notebook
(sanitising, then after grading). On a chapter notebook of some fifty cells that is most of the
preprocessor's ~20 ms per submission. Here the schema is checked once per process and every cell
is validated by the same validator class against the same schema, so the same metadata passes or
fails with the same error (``best_match`` of the same errors, as ``jsonschema.validate`` does).
"""

from __future__ import annotations

import functools
import json
import traceback

import jsonschema
from jsonschema.exceptions import best_match
from nbformat.notebooknode import NotebookNode
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import CheckCellMetadata


@functools.lru_cache(maxsize=4)
def _validator(schema_text: str):
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)  # what jsonschema.validate does first, on every call
    return cls(schema)


class _OneSchemaCheck(BaseMetadataValidator):
    """nbgrader's per-cell schema validation with the schema checked once."""

    def validate_cell(self, cell: NotebookNode) -> None:
        meta = cell.metadata.get("nbgrader")
        if meta is None or meta.get("schema_version", 0) != self.schema_version:
            super().validate_cell(cell)  # nothing to check, or nbgrader's version errors
            return
        validator = _validator(json.dumps(self.schema))  # key order kept: it shows in errors
        error = best_match(validator.iter_errors(meta))
        if error is not None:
            raise error


class CachedMetadataValidator(MetadataValidator, _OneSchemaCheck):
    """nbgrader's current MetadataValidator (its id and type checks) over the cached schema check.

    The method resolution order puts ``_OneSchemaCheck`` where nbgrader's validator calls
    ``super().validate_cell``: nbgrader's own checks run unchanged around it.
    """


class CachedCheckCellMetadata(CheckCellMetadata):
    """CheckCellMetadata (same log and error) with :class:`CachedMetadataValidator`."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        try:
            CachedMetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            msg = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(msg)
            raise ValidationError(msg) from None
        return nb, resources
