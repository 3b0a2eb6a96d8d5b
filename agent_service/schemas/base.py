"""What every request body shares: partial updates where null means something only when it can."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class Patch(BaseModel):
    """A partial update: a field left out stays as it is.

    An explicit ``null`` clears a field only where clearing means something (``clearable``);
    elsewhere it is refused with the field's name, like any other invalid value, instead of
    reaching a NOT NULL column.
    """

    clearable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _null_only_where_clearable(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                if value is None and name in cls.model_fields and name not in cls.clearable:
                    raise ValueError(
                        f"'{name}' cannot be null: send a value, or leave it out to keep it"
                    )
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The published schema says what the validator does: ``null`` appears only on the
        clearable fields, so clients (and schema-driven fuzzers) see the real contract."""
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for name, prop in target.get("properties", {}).items():
            if name in cls.clearable or "anyOf" not in prop:
                continue
            kept = [branch for branch in prop["anyOf"] if branch != {"type": "null"}]
            del prop["anyOf"]
            if len(kept) == 1:
                prop.update(kept[0])
            else:
                prop["anyOf"] = kept
            if prop.get("default", ...) is None:
                del prop["default"]
        return schema
