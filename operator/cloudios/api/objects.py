"""Objects as the API server hands them over, read into the API models (status is the operator's own)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
_META_KEYS = ("name", "namespace", "labels", "annotations", "generation", "uid")


def parse(body: Mapping[str, Any], model: type[ModelT]) -> ModelT:
    """The object without its status (which the operator writes) as ``model``; raises ValidationError."""
    meta = body.get("metadata", {})
    data = {
        "metadata": {k: meta[k] for k in _META_KEYS if meta.get(k) is not None},
        "spec": body.get("spec") or {},
    }
    return model.model_validate(data)


def validation_message(exc: ValidationError, *, limit: int = 3) -> str:
    """pydantic errors as 'spec.field: what is wrong' lines (the field first, like the CLI)."""
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "spec"
        parts.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def status_patch(status: BaseModel) -> dict[str, Any]:
    """The fields of a status model that were set, in the API's shape (camelCase, RFC 3339 times)."""
    return status.model_dump(mode="json", by_alias=True, exclude_unset=True)


def name_of(body: Mapping[str, Any]) -> tuple[str, str]:
    """(namespace, name) of an object body."""
    meta = body.get("metadata", {})
    return str(meta.get("namespace")), str(meta.get("name"))
