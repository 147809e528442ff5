"""Scenario files: a TOML file is a :class:`~sim.scene.scenario_spec.ScenarioSpec` written out.

The format mirrors the dataclasses field for field (``[region]``, ``[start]``, ``[goal]``,
``[[obstacles]]`` with an optional ``[obstacles.motion]``, ``[gate]``, ``[shelf]``, and
``[[scenes]]`` for fixed scenes with ``[[scenes.obstacles]]``); omitted fields take the
dataclass defaults. Reading is checked field by field: a wrong type, an unknown key or an
out-of-range value raises :class:`~sim.errors.SceneFileError` naming the file and the field.
:func:`scenario_to_toml` writes any spec back, so ``load(dump(spec)) == spec``.

A file is read only if it is a regular file (a FIFO, device or folder is refused without
opening it for long) of at most :data:`MAX_SCENARIO_FILE_BYTES`, in UTF-8; whatever it holds
(bytes that are not UTF-8, integers of thousands of digits, arrays nested thousands deep) ends in
a :class:`~sim.errors.SceneFileError`, never another exception. Fixed scenes (``[[scenes]]``) must
pass :func:`sim.scene.scene_sampling.check_scene`, and their goal configurations must be free of contact.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
import types
import typing
from typing import Any, Literal, Union

import tomli_w

from sim.errors import InvalidInputError, SceneFileError, show_value
from sim.scene.scenario_spec import ScenarioSpec
from sim.scene.scene_sampling import check_scene

#: TOML table names that differ from the dataclass field names.
_TOML_NAMES = {(ScenarioSpec, "fixed_scenes"): "scenes"}
#: The largest scenario file read (bytes); the benchmark's ten scenes take ~10 kB.
MAX_SCENARIO_FILE_BYTES: int = 1_000_000
#: Numbers beyond this magnitude are refused as they are read (every field's range is far smaller).
_MAX_MAGNITUDE = 1e300
_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def load_scenario_file(path: str | os.PathLike[str]) -> ScenarioSpec:
    """Read and check a scenario TOML file.

    Raises:
        SceneFileError: the file is missing, not a regular file, too large, not UTF-8, not TOML,
            or a field is malformed (the message names the file and the field).
    """
    path, data = load_toml_file(path, what="scenario file")
    return scenario_from_dict(data, source=path)


def load_toml_file(path: str | os.PathLike[str], *, what: str = "TOML file",
                   error: type[InvalidInputError] = SceneFileError,
                   max_bytes: int = MAX_SCENARIO_FILE_BYTES) -> tuple[str, dict[str, Any]]:
    """Read any user TOML file safely: ``(path as text, parsed table)``.

    Only a regular file of at most ``max_bytes`` is opened (a FIFO, device or folder is refused
    without waiting on it), it must be UTF-8 (a byte-order mark is dropped), and whatever it holds
    ends in ``error`` (one line naming the file and ``what`` it should be), never another
    exception: nesting thousands deep, integers of more than 4300 digits, invalid TOML.

    Raises:
        InvalidInputError: ``error``, for any of the above.
    """
    try:
        text_path = os.fspath(path)
    except TypeError:
        raise error(f"a {what} path must be a string or os.PathLike, got {type(path).__name__}") from None
    if not isinstance(text_path, str):
        text_path = os.fsdecode(text_path)
    text = _read_text(text_path, what, error, max_bytes)
    try:
        return text_path, tomllib.loads(text)
    except tomllib.TOMLDecodeError as decode_error:
        raise error(f"{text_path}: not valid TOML: {decode_error}") from None
    except RecursionError:
        raise error(f"{text_path}: not valid TOML: arrays or tables nested too deeply") from None
    except ValueError as value_error:  # e.g. an integer longer than Python converts (4300 digits)
        raise error(f"{text_path}: not valid TOML: {str(value_error).split(';')[0]}") from None


def _read_text(path: str, what: str, error: type[InvalidInputError], max_bytes: int) -> str:
    """The UTF-8 text of the regular file ``path`` (at most ``max_bytes``)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except (OSError, ValueError) as stat_error:  # ValueError: a NUL byte in the path
        reason = getattr(stat_error, "strerror", None) or stat_error
        raise error(f"{path}: cannot read the {what} ({reason})") from None
    _require_regular(path, info.st_mode, what, error)
    if info.st_size > max_bytes:
        raise error(f"{path}: the {what} has {info.st_size} bytes; expected at most {max_bytes}")
    try:
        # O_NONBLOCK: should a FIFO replace the file after the stat, opening it does not wait for a writer.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as open_error:
        raise error(f"{path}: cannot read the {what} ({open_error.strerror})") from None
    try:
        _require_regular(path, os.fstat(descriptor).st_mode, what, error)
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as read_error:
        raise error(f"{path}: cannot read the {what} ({read_error.strerror})") from None
    finally:
        os.close(descriptor)
    if len(data) > max_bytes:
        raise error(f"{path}: the {what} is larger than {max_bytes} bytes")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")  # a UTF-8 byte-order mark is harmless
    except UnicodeDecodeError as decode_error:
        line = data.count(b"\n", 0, decode_error.start) + 1
        raise error(f"{path}: not UTF-8 text (byte 0x{data[decode_error.start]:02x} on line {line}); "
                    "save the file as UTF-8") from None


def _require_regular(path: str, mode: int, what: str, error: type[InvalidInputError]) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
        raise error(f"{path}: is {kind}; expected a {what}")


def scenario_from_dict(data: dict[str, Any], source: str = "<scenario>") -> ScenarioSpec:
    """Build a spec from parsed TOML (a dict); errors name ``source`` and the field.

    Raises:
        SceneFileError: a field is malformed, unknown or missing (``name`` is required: it labels
            every row and report of a run); a fixed scene breaks a rule of
            :func:`~sim.scene.scene_sampling.check_scene` or its goal configuration is in contact.
    """
    spec = _build(ScenarioSpec, data, "", source)
    for index, scene in enumerate(spec.fixed_scenes):
        where = f"{source}: scenes[{index}]"
        try:
            check = check_scene(scene, where)
        except InvalidInputError as error:
            raise SceneFileError(str(error)) from None
        if not check.goal_clear:
            raise SceneFileError(f"{where}: the goal configuration touches an obstacle, the table or the arm itself "
                                 f"({check.goal_clearance_m * 1e3:.1f} mm); expected a goal reachable without contact")
    return spec


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
        return value  # its range is the spec's to check (an integer of any size is handled there)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) > _MAX_MAGNITUDE:
            raise fail("a number within +-1e300" if isinstance(value, (int, float)) else "a number")
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
    """``value`` with its TOML kind: ``str 'far'``, ``float 0.5``, ``dict {'a': 1}``."""
    shown = show_value(value)
    if shown.startswith("an ") or shown.startswith(type(value).__name__):
        return shown
    return f"{type(value).__name__} {shown}"


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


__all__ = ["MAX_SCENARIO_FILE_BYTES", "load_scenario_file", "load_toml_file", "scenario_from_dict", "scenario_to_toml"]
