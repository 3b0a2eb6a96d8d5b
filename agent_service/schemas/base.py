"""What every request body shares: partial updates where null means something only when it can."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, model_validator


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
