"""INI -> typed dataclasses.

Each INI section maps to one `@config_section("name")` dataclass. Values are converted by the field
annotations; relative paths resolve against the INI file's folder; `${VAR}` / `${VAR:-default}` and
`~` expand. Precedence: dataclass defaults < INI < `--set section.key=value`.
"""
from __future__ import annotations

import configparser
import dataclasses
import difflib
import json
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from utils.artifacts import read_text
from utils.errors import ConfigError, ZooRankError

T = TypeVar("T")
SECTIONS: dict[str, type] = {}
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NONE = {"", "none", "null"}


class PathOrName(str):
    """Annotation for "a local folder or a hub id": resolved like a Path when it looks like one
    (starts with ./, ../, / or ~) or exists relative to the INI folder; otherwise kept as a name."""


def config_section(name: str):
    """Class decorator: make `cls` a dataclass bound to INI section `[name]`."""

    def deco(cls: type[T]) -> type[T]:
        cls = cls if dataclasses.is_dataclass(cls) else dataclasses.dataclass(cls)
        if name in SECTIONS:
            raise ConfigError(f"config section [{name}] is defined twice ({SECTIONS[name]} and {cls})")
        cls.SECTION = name
        SECTIONS[name] = cls
        return cls

    return deco


def _closest(word: str, options: typing.Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return f"; did you mean '{match[0]}'?" if match else ""


def expand_env(value: str, where: str) -> str:
    def sub(m: re.Match) -> str:
        var, default = m.group(1), m.group(2)
        if var in os.environ:
            return os.environ[var]
        if default is not None:
            return default
        raise ConfigError(f"{where}: environment variable ${{{var}}} is not set; export it or write ${{{var}:-default}}")

    return _ENV.sub(sub, value)


def convert(raw: Any, tp: Any, where: str, base_dir: Path) -> Any:
    """Convert string `raw` (or an already-typed JSON element) to annotation `tp`."""
    origin, args = get_origin(tp), get_args(tp)
    text = raw.strip() if isinstance(raw, str) else raw
    if origin in (Union, types.UnionType):
        if type(None) in args and (text is None or (isinstance(text, str) and text.lower() in _NONE)):
            return None
        inner = [a for a in args if a is not type(None)]
        errors = []
        for a in inner:
            try:
                return convert(raw, a, where, base_dir)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: cannot read {raw!r} as {tp}")
    if origin is Literal:
        for choice in args:
            if str(choice).lower() == str(text).lower():
                return choice
        opts = ", ".join(map(str, args))
        raise ConfigError(f"{where}: {raw!r} is not one of {opts}{_closest(str(text), map(str, args))}")
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple):
        items = _split_list(text, where)
        elem = args[0] if args else str
        out = [convert(x, elem, f"{where}[{i}]", base_dir) for i, x in enumerate(items)]
        return origin(out) if origin in (tuple, set, frozenset) else out
    if origin is dict or tp is dict:
        kt, vt = args if args else (str, str)
        return {
            convert(k, kt, where, base_dir): convert(v, vt, f"{where}.{k}", base_dir)
            for k, v in _split_dict(text, where).items()
        }
    if tp is Any:
        return raw
    if tp is bool:
        if isinstance(text, bool):
            return text
        if str(text).lower() in _TRUE:
            return True
        if str(text).lower() in _FALSE:
            return False
        raise ConfigError(f"{where}: expected true/false, got {raw!r}")
    if tp in (int, float):
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            if tp is int and float(text) != int(text):
                raise ConfigError(f"{where}: expected int, got {raw!r}")
            return tp(text)
        try:
            return int(str(text).replace("_", "")) if tp is int else float(text)
        except ValueError:
            raise ConfigError(f"{where}: expected {tp.__name__}, got {raw!r}") from None
    if tp is PathOrName:
        text = os.path.expanduser(str(text))
        looks_local = text.startswith((".", "/")) or (base_dir / text).exists()
        return PathOrName(os.path.normpath(base_dir / text) if looks_local and text else text)
    if tp is str:
        return str(raw) if not isinstance(raw, str) else raw.strip()
    if tp is Path or (isinstance(tp, type) and issubclass(tp, Path)):
        p = Path(os.path.expanduser(str(text)))
        return Path(os.path.normpath(p if p.is_absolute() else base_dir / p))
    raise ConfigError(f"{where}: unsupported annotation {tp!r}")


def _split_list(text: Any, where: str) -> list:
    if isinstance(text, (list, tuple)):
        return list(text)
    if str(text).startswith("["):
        try:
            return list(json.loads(text))
        except json.JSONDecodeError as err:
            raise ConfigError(f"{where}: invalid JSON list {text!r} ({err.msg})") from None
    return [x.strip() for x in str(text).split(",") if x.strip()]


def _split_dict(text: Any, where: str) -> dict:
    if isinstance(text, dict):
        return text
    if str(text).startswith("{"):
        try:
            return dict(json.loads(text))
        except json.JSONDecodeError as err:
            raise ConfigError(f"{where}: invalid JSON object {text!r} ({err.msg})") from None
    out = {}
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        if "=" not in part:
            raise ConfigError(f"{where}: expected key=value pairs or a JSON object, got {text!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def to_ini_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return json.dumps(value if isinstance(value, dict) else list(value), default=str)
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (Path, str)):  # plain str: checkpoints load with weights_only=True
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


class ConfigParser:
    """The parsed `config.ini` plus `--set` overrides. `get(SomeConfig)` returns a typed section."""

    def __init__(self, path: str | os.PathLike | None = None, overrides: typing.Sequence[str] = (),
                 ignore_unknown_sections: bool = False) -> None:
        # a run folder's resolved config.ini also holds the sections of plugins loaded by that run: a reader
        # that needs one known section ignores those instead of failing
        self.ignore_unknown_sections = ignore_unknown_sections
        self.path = Path(path).resolve() if path is not None else None
        self.base_dir = self.path.parent if self.path else Path.cwd()
        # section -> key -> (raw value, where it came from, folder relative paths resolve against)
        self._raw: dict[str, dict[str, tuple[str, str, Path]]] = {}
        if self.path is not None:
            self._read_file(self.path)
        for item in overrides:
            self._apply_override(item)
        self.validate()

    def _read_file(self, path: Path) -> None:
        if path.is_dir():
            raise ConfigError(f"config file {path} is a folder; pass --config PATH to an INI file (e.g. {path / 'config.ini'})")
        if not path.is_file():
            raise ConfigError(f"config file {path} not found; pass --config PATH to an existing INI")
        try:
            text = read_text(path, what="config file", rebuild="save it as UTF-8 text")
        except ZooRankError as err:
            raise ConfigError(str(err)) from None
        self._read_text(text, path.name, path.parent)

    def _read_text(self, text: str, name: str, base_dir: Path) -> None:
        ini = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
        ini.optionxform = str
        try:
            ini.read_string(text, source=name)
        except configparser.Error as err:
            first = str(err).splitlines()[0]
            raise ConfigError(f"{name}: not a valid INI file ({first}); fix the line it names") from None
        for sec in ini.sections():
            for key, value in ini.items(sec, raw=True):
                self._raw.setdefault(sec, {})[key] = (value, f"{name} [{sec}] {key}", base_dir)

    @classmethod
    def from_text(cls, text: str, name: str, overrides: typing.Sequence[str] = (),
                  ignore_unknown_sections: bool = False) -> ConfigParser:
        """A config from INI text (e.g. a run folder's resolved config.ini, read or held in memory) plus `--set`
        overrides; `name` says where it came from in errors. Relative paths resolve against the working folder."""
        parser = cls(None, (), ignore_unknown_sections)
        parser._read_text(text, name, Path.cwd())
        for item in overrides:
            parser._apply_override(item)
        parser.validate()
        return parser

    def _apply_override(self, item: str) -> None:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. --set run.seed=1")
        lhs, value = item.split("=", 1)
        sec, key = lhs.strip().rsplit(".", 1)
        self._raw.setdefault(sec, {})[key] = (value, f"--set {sec}.{key}", Path.cwd())

    def validate(self) -> None:
        """Check every section and key exists and converts; raise ConfigError on the first problem."""
        if self.ignore_unknown_sections:
            self._raw = {sec: items for sec, items in self._raw.items() if sec in SECTIONS}
        for sec, items in self._raw.items():
            if sec not in SECTIONS:
                src = self.path.name if self.path else "config"
                where = next(iter(items.values()))[1] if items else f"{src} [{sec}]"
                where = where.rsplit(" ", 1)[0] if where.startswith(src) else where
                raise ConfigError(
                    f"{where}: unknown section [{sec}]{_closest(sec, SECTIONS)} "
                    f"known sections: {', '.join(sorted(SECTIONS))}"
                )
            self.get(SECTIONS[sec])

    def get(self, cls: type[T]) -> T:
        sec = cls.SECTION
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, (raw, where, base) in self._raw.get(sec, {}).items():
            if key not in fields:
                raise ConfigError(
                    f"{where}: unknown key '{key}'{_closest(key, fields)} valid keys: {', '.join(fields)}"
                )
            values[key] = convert(expand_env(raw, where), hints[key], where, base)
        for name, f in fields.items():
            if name in values or not f.init:
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            if isinstance(default, Path) and not default.is_absolute():
                values[name] = Path(os.path.normpath(self.base_dir / default))
        obj = cls(**values)
        check = getattr(obj, "check", None)
        if callable(check):
            check()
        return obj

    def resolved(self) -> dict[str, dict[str, Any]]:
        """Every known section with defaults filled in, JSON-serialisable (for checkpoints)."""
        return {sec: _jsonable(dataclasses.asdict(self.get(cls))) for sec, cls in sorted(SECTIONS.items())}

    def to_ini(self) -> str:
        lines = ["; resolved ZooRank configuration (defaults < INI < --set)"]
        for sec, cls in sorted(SECTIONS.items()):
            obj = self.get(cls)
            lines.append(f"\n[{sec}]")
            lines += [f"{f.name} = {to_ini_value(getattr(obj, f.name))}" for f in dataclasses.fields(cls)]
        return "\n".join(lines) + "\n"
