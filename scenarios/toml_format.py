"""Scenario files: a TOML file is a :class:`~sim.scenario_spec.ScenarioSpec` written out.

The format mirrors the dataclasses field for field (``[region]``, ``[start]``, ``[goal]``,
``[[obstacles]]`` with an optional ``[obstacles.motion]``, ``[gate]``, ``[shelf]``, and
``[[scenes]]`` for fixed scenes with ``[[scenes.obstacles]]``); omitted fields take the
dataclass defaults. Reading is checked field by field: a wrong type, an unknown key or an
out-of-range value raises :class:`~sim.errors.SceneFileError` naming the file and the field.
:func:`scenario_to_toml` writes any spec back, so ``load(dump(spec)) == spec``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from typing import Any, Literal, Union

import tomli_w

from sim.errors import InvalidInputError, SceneFileError
from sim.scenario_spec import ScenarioSpec

#: TOML table names that differ from the dataclass field names.
_TOML_NAMES = {(ScenarioSpec, "fixed_scenes"): "scenes"}


def load_scenario_file(path: str | os.PathLike[str]) -> ScenarioSpec:
    """Read and check a scenario TOML file.

    Raises:
        SceneFileError: the file is missing, not TOML, or a field is malformed (the message
            names the file and the field).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise SceneFileError(f"{path}: scenario file not found") from None
    except OSError as error:
        raise SceneFileError(f"{path}: cannot read the scenario file ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise SceneFileError(f"{path}: not valid TOML: {error}") from None
    return scenario_from_dict(data, source=path)


def scenario_from_dict(data: dict[str, Any], source: str = "<scenario>") -> ScenarioSpec:
    """Build a spec from parsed TOML (a dict); errors name ``source`` and the field.

    Raises:
        SceneFileError: a field is malformed, unknown or missing (``name`` is required: it labels
            every row and report of a run).
    """
    return _build(ScenarioSpec, data, "", source)


def scenario_to_toml(spec: ScenarioSpec) -> str:
    """The TOML text of ``spec`` (every field written, fixed scenes included), written by ``tomli-w``."""
    return f"# Scenario {spec.name!r}, written by scenarios.scenario_to_toml\n" + tomli_w.dumps(_table(spec))


# --------------------------------------------------------------------------------- reading
def _field_name(cls: type, name: str) -> str:
    return _TOML_NAMES.get((cls, name), name)


def _build(cls: type, table: Any, where: str, source: str) -> Any:
    """Instantiate dataclass ``cls`` from TOML table ``table`` found at ``where``."""
    if not isinstance(table, dict):
        raise SceneFileError(f"{source}: field {where or 'top level'!r}: expected a table, got {_describe(table)}")
    hints = typing.get_type_hints(cls)
    init_fields = {_field_name(cls, f.name): f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(table) - set(init_fields))
    if unknown:
        name = f"{where}.{unknown[0]}" if where else unknown[0]
        raise SceneFileError(f"{source}: field {name!r}: unknown field; valid fields here: {', '.join(init_fields)}")
    missing = [key for key, spec_field in init_fields.items() if key not in table
               and spec_field.default is dataclasses.MISSING and spec_field.default_factory is dataclasses.MISSING]
    if missing:
        names = ", ".join(repr(f"{where}.{key}" if where else key) for key in missing)
        raise SceneFileError(f"{source}: missing required field(s) {names}")
    values = {}
    for key, value in table.items():
        spec_field = init_fields[key]
        values[spec_field.name] = _convert(value, hints[spec_field.name], f"{where}.{key}" if where else key, source)
    try:
        return cls(**values)
    except InvalidInputError as error:
        raise SceneFileError(f"{source}: in {where or 'the top level'!r}: {error}") from None


def _convert(value: Any, annotation: Any, where: str, source: str) -> Any:
    """``value`` checked and converted to ``annotation`` (the dataclass field's type)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)

    def fail(expected: str) -> SceneFileError:
        return SceneFileError(f"{source}: field {where!r}: expected {expected}, got {_describe(value)}")

    if origin in (Union, types.UnionType):
        options = [arg for arg in args if arg is not type(None)]
        return _convert(value, options[0], where, source)
    if origin is Literal:
        if value not in args:
            raise fail(f"one of {', '.join(map(repr, args))}")
        return value
    if dataclasses.is_dataclass(annotation):
        return _build(annotation, value, where, source)
    if annotation is bool:
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("a number")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise fail("an array")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(item, args[0], f"{where}[{i}]", source) for i, item in enumerate(value))
        if len(value) != len(args):
            raise fail(f"an array of {len(args)} values")
        pairs = enumerate(zip(value, args, strict=True))
        return tuple(_convert(item, arg, f"{where}[{i}]", source) for i, (item, arg) in pairs)
    raise SceneFileError(f"{source}: field {where!r}: unsupported type {annotation}")  # pragma: no cover


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 60 else text[:57] + '...'}"


# --------------------------------------------------------------------------------- writing
def _table(obj: Any) -> dict[str, Any]:
    """``obj``'s init fields as a TOML table (``None`` left out: TOML has no null)."""
    table: dict[str, Any] = {}
    for spec_field in dataclasses.fields(obj):
        value = getattr(obj, spec_field.name)
        if spec_field.init and value is not None:
            table[_field_name(type(obj), spec_field.name)] = _toml_value(value)
    return table


def _toml_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return _table(value)
    if isinstance(value, tuple):
        return [_toml_value(item) for item in value]
    return value


__all__ = ["load_scenario_file", "scenario_from_dict", "scenario_to_toml"]
