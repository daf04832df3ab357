"""nbgrader's CheckCellMetadata, without re-checking the JSON schema for every cell.

nbgrader validates each cell's ``nbgrader`` metadata with ``jsonschema.validate``, which first
checks that the *schema* itself is valid: a whole meta-schema pass per cell, twice per notebook
(sanitising, then after grading). On a chapter notebook of some fifty cells that is most of the
preprocessor's ~20 ms per submission. Here the schema is checked once per process and every cell
is validated by the same validator class against the same schema, so the same metadata passes or
fails with the same error (``best_match`` of the same errors, as ``jsonschema.validate`` does).
"""

from __future__ import annotations

import traceback

import jsonschema
from jsonschema.exceptions import best_match
from nbformat.notebooknode import NotebookNode
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import CheckCellMetadata

_VALIDATORS: dict[tuple[type, int], jsonschema.protocols.Validator] = {}


def _validator(owner: BaseMetadataValidator):
    """The validator for ``owner``'s schema, its schema checked once per class and version
    (nbgrader loads one fixed schema file per version)."""
    key = (type(owner), owner.schema_version)
    if key not in _VALIDATORS:
        cls = jsonschema.validators.validator_for(owner.schema)
        cls.check_schema(owner.schema)  # what jsonschema.validate does first, on every call
        _VALIDATORS[key] = cls(owner.schema)
    return _VALIDATORS[key]


class _OneSchemaCheck(BaseMetadataValidator):
    """nbgrader's per-cell schema validation with the schema checked once."""

    def validate_cell(self, cell: NotebookNode) -> None:
        meta = cell.metadata.get("nbgrader")
        if meta is None or meta.get("schema_version", 0) != self.schema_version:
            super().validate_cell(cell)  # nothing to check, or nbgrader's version errors
            return
        validator = _validator(self)
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
