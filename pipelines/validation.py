"""Tables of ``pipeline.toml`` validated by a declarative pydantic model, one line per problem.

A section's model derives from ``Section`` (unknown keys refused, no coercion: ``"3"`` is not
a number and ``true`` not an integer; no NaN or infinity) and declares each key with
``setting(default, "what is allowed", description=..., ge=..., ...)``. ``validate_table``
runs it and turns every pydantic error into ``section.key: expected <what is allowed>, got
<value>``, or ``section.key: unknown key (known: ...)``; a validator's own ``ValueError``
message is used as it stands. Keys inside lists and tables are named as in the file:
``sinks.runlog.targets[0].url``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipelines.errors import ConfigError

EXPECTED = "expected"  # the json_schema_extra key of a field's words for what it allows
WORDS = {  # what an error says is allowed when its field declares no words (items of a list)
    "int_type": "an integer", "float_type": "a number", "finite_number": "a finite number",
    "bool_type": "true or false", "string_type": "a string", "list_type": "a list",
    "model_type": "a table", "dict_type": "a table",
}  # fmt: skip


class Section(BaseModel):
    """The rules every section's model follows."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


def setting(default: Any, expected: str = "", description: str = "", **rules: Any) -> Any:
    """A declared key: its default, what it allows (in words, for errors), its doc line and
    pydantic's constraints (``ge``, ``le``, ``gt``, ``min_length``, ``pattern``...)."""
    extra = {EXPECTED: expected} if expected else None
    if isinstance(default, list | dict | BaseModel):
        return Field(default_factory=lambda: _copy(default), description=description,
                     json_schema_extra=extra, **rules)  # fmt: skip
    return Field(default, description=description, json_schema_extra=extra, **rules)


def _copy(value: Any) -> Any:
    return value.model_copy() if isinstance(value, BaseModel) else type(value)(value)


def validate_table(
    prefix: str, model: type[BaseModel], table: Any, context: Mapping[str, Any] | None = None
) -> tuple[BaseModel | None, list[str]]:
    """``model`` of ``table`` and no problems, or ``None`` and one line per problem."""
    if table is None:
        table = {}
    if not isinstance(table, Mapping):
        return None, [f"{prefix}: expected a table, got {table!r}"]
    try:
        return model.model_validate(dict(table), context=context), []
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda error: len(error["loc"]))  # outer keys first
        return None, [problem(prefix, model, error) for error in errors]


def checked(
    prefix: str, model: type[BaseModel], table: Any, context: Mapping[str, Any] | None = None
) -> Any:
    """``model`` of ``table``; a ``ConfigError`` listing every problem otherwise."""
    found, problems = validate_table(prefix, model, table, context)
    if problems:
        raise ConfigError("; ".join(problems))
    return found


def problem(prefix: str, model: type[BaseModel], error: Mapping[str, Any]) -> str:
    """One pydantic error as one line naming the key, what is allowed and what was found."""
    parts, holder, field, annotation = _walk(model, error["loc"])
    key = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return f"{key}: unknown key (known: {', '.join(holder.model_fields)})"
    if kind.startswith("union_tag"):
        tags = ", ".join(str(t) for m in _models_in(annotation) for t in _tags_of(m))
        tag = value.get("kind") if isinstance(value, Mapping) else value
        return f"{key}.kind: expected one of {tags}, got {tag!r}"
    if kind == "value_error":
        return f"{key}: {error['msg'].removeprefix('Value error, ')}"
    words = (_words(field) if field is not None else "") or WORDS.get(kind)
    words = words or _literal_words(error) or error["msg"].lower()
    if kind == "missing":
        return f"{key}: expected {words} (required)"
    return f"{key}: expected {words}, got {value!r}"


def _walk(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[Any], Any, Any, Any]:
    """Where an error is: the key's parts as the file has them (a union's tag is not in the
    file), the model holding the last key, that key's field (``None`` for an item of a list)
    and the annotation of the value found there."""
    parts: list[Any] = []
    holder: Any = model
    field, annotation = None, model
    for part in loc:
        models = _models_in(annotation)
        owner = next((m for m in models if part in m.model_fields), None)
        if isinstance(part, int):
            field, annotation = None, _item(annotation)
        elif owner is not None:
            holder, field = owner, owner.model_fields[part]
            annotation = field.annotation
        elif len(models) > 1 and any(part in _tags_of(m) for m in models):
            annotation = next(m for m in models if part in _tags_of(m))
            continue
        else:  # a key no model declares
            holder, field, annotation = models[0] if models else holder, None, None
        parts.append(part)
    return parts, holder, field, annotation


def _item(annotation: Any) -> Any:
    """The annotation of an element of a ``list[...]`` (of the value itself otherwise)."""
    args = get_args(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in args if a is not type(None))
        args = get_args(annotation)
    return args[0] if get_origin(annotation) is list and args else annotation


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a value of ``annotation`` may be (an optional one, or a union's members)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, types.UnionType) or hasattr(annotation, "__metadata__"):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


def _tags_of(model: type[BaseModel]) -> tuple[Any, ...]:
    """The ``kind`` values a member of a discriminated union stands for."""
    kind = model.model_fields.get("kind")
    return get_args(kind.annotation) if kind is not None else ()


def _words(field: Any) -> str:
    """What a field allows: its declared words, else its choices."""
    extra = field.json_schema_extra or {}
    if extra.get(EXPECTED):
        return extra[EXPECTED]
    choices = [a for a in get_args(field.annotation) if a is not None]
    if get_origin(field.annotation) is Literal and choices:
        return "one of " + ", ".join(str(c) for c in choices)
    return ""


def _literal_words(error: Mapping[str, Any]) -> str:
    expected = (error.get("ctx") or {}).get("expected")
    return f"one of {expected}" if error["type"] == "literal_error" and expected else ""


def field_rows(prefix: str, model: type[BaseModel]) -> list[dict[str, str]]:
    """The model's keys for the docs tables: key, default and description."""
    return [
        {"key": f"{prefix}.{name}", "default": str(info.get_default(call_default_factory=True)),
         "description": info.description or ""}
        for name, info in model.model_fields.items()
    ]  # fmt: skip
