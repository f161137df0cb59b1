"""Configuration files (YAML, validated by pydantic) with errors a technician can act on.

Every error names the file, the field path (``devices[1].endpoint``) and what would be valid.
`describe_errors` is the one formatter of pydantic errors: config files, device options, wire
payloads and the evidence inputs all report through it, so every message reads the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class ConfigError(Exception):
    """A configuration file that cannot be used, with every problem listed."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + ("\n  ".join(["invalid configuration:", *problems])))


def field_path(loc: Sequence[int | str], *, prefix: str = "", dotted: bool = False) -> str:
    """``("devices", 1, "endpoint")`` → ``devices[1].endpoint`` (after ``prefix``, if any);
    ``dotted`` writes ``devices.1.endpoint``, the way wire payload errors name a field."""
    out = prefix
    for part in loc:
        if isinstance(part, int) and not dotted:
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def describe_errors(err: ValidationError, *, data: Any = None, prefix: str = "",
                    fields: Sequence[str] = (), noun: str = "field", dotted: bool = False,
                    limit: int | None = None, branches: Collection[str] = ()) -> list[str]:
    """One line per problem: ``field.path: what is wrong (got …)``.

    ``prefix`` is where the validated data sits in a larger document (``options``);
    ``fields`` lists the valid field names, named when a field is unknown (an unknown
    ``noun``: "field", or "option" for device options); ``dotted`` as in `field_path`; with
    ``limit``, the lines after it are summed up as "… and N more"; ``branches`` are the tags of
    a discriminated union of list items (``sample``, ``block``), left out after the item's index.
    """
    lines: list[str] = []
    for e in err.errors():
        # Pydantic puts the union branch / validator name into loc; drop the noise.
        loc = tuple(p for i, p in enumerate(e["loc"]) if not (isinstance(p, str) and (
            p.startswith("function-") or (p in branches and i and isinstance(e["loc"][i - 1], int)))))
        if loc and isinstance(data, dict) and loc[0] == data.get("protocol"):
            loc = loc[1:]  # the discriminated-union branch, not a field the user wrote
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = (f"unknown {noun} (valid: " + ", ".join(sorted(fields)) + ")" if fields else
                   f"unknown {noun} (check the spelling; see the example configs in examples/)")
        elif e["type"] == "missing":
            msg = "required field is missing"
        got = e.get("input")
        if e["type"] not in ("missing", "extra_forbidden") and not isinstance(got, dict | list):
            shown = repr(got)
            msg += f" (got {shown[:80] + '…' if len(shown) > 80 else shown})"
        lines.append(f"{field_path(loc, prefix=prefix, dotted=dotted)}: {msg}")
    if limit is not None and len(lines) > limit:
        lines = [*lines[:limit], f"… and {len(lines) - limit} more"]
    return lines


# What a config, a profile or an inventory mapping may be: generous for any real file, small
# enough that a hostile one (a "billion laughs" of aliases, thousands of nested brackets) is
# refused before it costs memory or minutes.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 100_000
MAX_PROBLEMS = 50  # listed of a file's errors; the rest summed up ("… and N more")


def _too_much(problem: str, node: yaml.Node) -> yaml.YAMLError:
    return yaml.composer.ComposerError(None, None, problem, node.start_mark)


# libyaml's safe loader when PyYAML was built with it: the same documents, parsed several times
# faster and with about 40% less memory at its peak (a 1,000-tag profile took 14 MB to parse
# with the pure-Python loader, which an agent's peak RSS then kept)
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_depth(text: str) -> None:
    """The nesting bounded before anything is composed (both composers recurse): one pass over
    the parser's events, which holds nothing."""
    problem = f"nested deeper than {MAX_DEPTH} levels"
    loader = _SAFE_LOADER(text)
    try:
        depth = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark: Any = event.start_mark  # libyaml's Mark is a type of its own
                    raise yaml.composer.ComposerError(None, None, problem, mark)
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as err:
        if "nesting depth" not in str(err.problem):  # libyaml's own limit, met while scanning ahead
            raise
        raise yaml.composer.ComposerError(None, None, problem, err.problem_mark) from err
    finally:
        loader.dispose()


def _expanded(node: yaml.Node, seen: dict[int, int], open_: set[int], depth: int = 0) -> int:
    """How many values ``node`` stands for once every alias is expanded (each alias node is
    visited once); raises on a structure that contains itself."""
    key = id(node)
    if key in seen:
        return seen[key]
    if key in open_:
        raise _too_much("an alias refers to the structure it is part of (a recursive structure)", node)
    if depth > 2 * MAX_DEPTH:
        raise _too_much(f"aliases nest deeper than {2 * MAX_DEPTH} levels", node)
    open_.add(key)
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    total = 1 + sum(_expanded(c, seen, open_, depth + 1) for c in children)
    open_.discard(key)
    if total > MAX_VALUES:
        raise _too_much(f"expands to more than {MAX_VALUES} values (aliases repeating aliases?)", node)
    seen[key] = total
    return total


def parse_yaml(text: str) -> Any:
    """YAML text → data, safely and within the bounds above; raises yaml.YAMLError."""
    _check_depth(text)
    loader = _SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded(node, {}, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(path, [f"the file is {size} bytes; a config file is at most {MAX_FILE_BYTES} "
                                     "(is this the right file?)"])
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(path, [f"not UTF-8 text (byte {err.start}); save the file as UTF-8"]) from err
    except OSError as err:
        raise ConfigError(path, [f"cannot read file: {err.strerror}"]) from err
    try:
        return parse_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(path, [f"{where}not valid YAML: {problem}"]) from err


def validate(model: type[M] | TypeAdapter[T], data: Any, path: Path | str) -> Any:
    """``data`` (a mapping read from ``path``) as ``model``, or ConfigError listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(path, [f"(top level): expected a mapping of fields, got {type(data).__name__}"])
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(path, describe_errors(err, data=data, limit=MAX_PROBLEMS)) from err


def load(model: type[M], path: Path | str, *, empty_ok: bool = False) -> M:
    """Read and validate one YAML file; an empty file is the model's defaults when ``empty_ok``."""
    path = Path(path)
    data = read_yaml(path)
    if data is None and empty_ok:
        data = {}
    result: M = validate(model, data, path)
    return result
