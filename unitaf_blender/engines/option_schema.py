"""Engine options as declared data. Each engine lists its options (`Engine.options`): name, kind,
choices, default, label, help. Every front end reads that list and none names an engine: the
panel draws them (blender/panel/engine_options.py), the CLI parses `--option NAME=VALUE` and
lists them in its help, batch files are checked against them, and the request path parses the
values a user gave (text from the CLI, numbers from a batch file or the panel) into
`request.options`.
"""
import math
import re
from dataclasses import dataclass
from typing import Optional

from .contract import EngineError

KINDS = ("choice", "number", "integer", "flag", "text", "file", "folder")
PANEL_PLACES = ("engine", "emotion", None)
_ON, _OFF = ("on", "true", "yes", "1"), ("off", "false", "no", "0")


class OptionError(EngineError):
    """An option value (or name) a user gave that the engine does not take; the message names
    the option and what it takes."""


@dataclass(frozen=True)
class Choice:
    value: str          # lower-case, as request.options holds it
    label: str
    help: str = ""


@dataclass(frozen=True)
class Option:
    name: str                       # the key in request.options, `--option NAME=...`, a batch line's "options"
    kind: str                       # one of KINDS
    default: object                 # what the engine uses when the option is not given
    label: str                      # the panel's label
    help: str
    choices: tuple = ()             # Choice, for kind "choice"
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    also: str = ""                  # a regular expression of further accepted values (e.g. cuda:N)
    aliases: tuple = ()             # (other spelling, choice value)
    panel: Optional[str] = "engine"  # where the panel draws it: "engine" (the engine's sub-panel), "emotion"
                                     # (beside the emotion); None: the CLI and batch files only
    preference: bool = False        # the add-on preferences hold its value (a scene may override a panel one)

    def parse(self, value):
        """The value as the engine reads it (a number, a flag, a lower-case choice); text from
        the command line is converted. OptionError saying what the option takes otherwise."""
        if self.kind == "choice":
            text = str(value).strip().lower()
            text = dict(self.aliases).get(text, text)
            if text in self.values or (self.also and re.fullmatch(self.also, text)):
                return text
            raise OptionError(f"option {self.name}: {value!r} is not one of {', '.join(self.values)}")
        if self.kind in ("number", "integer"):
            return self._number(value)
        if self.kind == "flag":
            text = str(value).strip().lower()
            if isinstance(value, bool) or text in _ON + _OFF:
                return value if isinstance(value, bool) else text in _ON
            raise OptionError(f"option {self.name}: {value!r} is not on or off")
        if not isinstance(value, str) or (self.kind != "text" and not value.strip()):
            raise OptionError(f"option {self.name}: expected {self._what()}, got {value!r}")
        return value

    def _number(self, value):
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if self.kind == "integer":
                if number != int(number):
                    raise ValueError
                number = int(number)
        except (TypeError, ValueError, OverflowError):
            raise OptionError(f"option {self.name}: {value!r} is not {self._what()}") from None
        if not math.isfinite(number) or (self.minimum is not None and number < self.minimum) or (
                self.maximum is not None and number > self.maximum):
            raise OptionError(f"option {self.name}: {value!r} is outside {self._range()}")
        return number

    @property
    def values(self) -> tuple:
        return tuple(c.value for c in self.choices)

    def _range(self) -> str:
        low = "" if self.minimum is None else f"{self.minimum:g}"
        high = "" if self.maximum is None else f"{self.maximum:g}"
        return f"{low}..{high}"

    def _what(self) -> str:
        return {"number": "a number", "integer": "a whole number", "text": "text", "file": "a file path",
                "folder": "a folder path"}.get(self.kind, self.kind)

    def describe(self) -> str:
        """One line for help texts: `name=VALUES (default D): help`."""
        if self.kind == "choice":
            takes = "|".join(self.values)
        elif self.kind in ("number", "integer"):
            takes = self._what() + (f" in {self._range()}" if self.minimum is not None or self.maximum is not None
                                    else "")
        else:
            takes = {"flag": "on|off"}.get(self.kind, self._what())
        default = "" if self.default is None else f" (default {self.default})"
        return f"{self.name}={takes}{default}: {self.help}"


@dataclass(frozen=True)
class VoiceInput:
    """How an engine's voice is chosen: an id from `Engine.voices()` ("id"; the panel offers a
    search list) or a recording to imitate ("clip"; the panel offers a file field)."""
    kind: str               # "id" or "clip"
    label: str
    help: str
    empty: str = ""         # what an empty voice means, shown beside the field


# Where downloaded model files live; every engine that downloads reads them, and the request
# path's text-emotion model (emotion 'auto') too. The add-on preferences hold both.
MODEL_DIR = Option("model_dir", "folder", None, "Model Folder",
                   "a folder holding the model files as <repo_id>/<file>: used as is, never downloaded into",
                   panel=None, preference=True)
CACHE_DIR = Option("cache_dir", "folder", None, "Cache Folder",
                   "where downloaded model files are kept (default: the Hugging Face cache)",
                   panel=None, preference=True)
STORE_OPTIONS = (MODEL_DIR, CACHE_DIR)


def merged(*schemas) -> tuple:
    """The options of several schemas, each name once; one name declared twice must be the same
    declaration (one fact, one place)."""
    out = {}
    for option in (o for schema in schemas for o in schema):
        if out.setdefault(option.name, option) != option:
            raise ValueError(f"option {option.name} is declared twice, differently")
    return tuple(out.values())


def check_schema(schema) -> None:
    """ValueError unless `schema` is a well-formed option list (unique names that are Python
    identifiers, known kinds, choices for a choice, a default the option accepts)."""
    names = [o.name for o in schema]
    if len(set(names)) != len(names):
        raise ValueError(f"option names repeat: {names}")
    for o in schema:
        if not isinstance(o, Option) or not o.name.isidentifier() or o.kind not in KINDS:
            raise ValueError(f"not a well-formed option: {o!r}")
        if (o.kind == "choice") != bool(o.choices) or any(c.value != c.value.lower() for c in o.choices):
            raise ValueError(f"option {o.name}: a choice option lists lower-case choices, others none")
        if o.panel not in PANEL_PLACES:
            raise ValueError(f"option {o.name}: panel must be one of {PANEL_PLACES}")
        if o.default is not None:
            o.parse(o.default)


def parse_options(schema, values: dict, owner: str) -> dict:
    """`values` (name -> value as the user gave it; None = not given) parsed by `schema`; an
    OptionError names an unknown option together with the options there are."""
    by_name = {o.name: o for o in schema}
    unknown = sorted(name for name in values if name not in by_name)
    if unknown:
        raise OptionError(f"{owner} has no option {', '.join(unknown)}; its options: "
                          f"{', '.join(sorted(by_name)) or 'none'}")
    return {name: by_name[name].parse(value) for name, value in values.items() if value is not None}
