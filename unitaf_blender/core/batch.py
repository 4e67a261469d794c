"""Batch files: many lines, several characters, one after another (pure Python).

Format (JSON)::

    {
      "gap": 0.4,                              # seconds of silence between lines (default 0.4)
      "defaults": {"emotion": "calm:0.5", "engine": "embedded", "voice": null, "language": null},
      "characters": {"Ada": {"object": "AdaHead", "voice": "en-us+f3"}},   # optional
      "lines": [
        {"character": "Ada", "text": "[happy] Hello Bob!", "emotion": "happy:0.8"},
        {"object": "BobHead", "text": "Oh. Hi.", "emotion": "sad:0.4", "gap": 1.0, "seed": 7},
        {"object": "BobHead", "text": "Again.", "frame": 400, "options": {"emo_alpha": 0.6}}
      ]
    }

A line takes its fields from itself, then its character, then `defaults`; its `options` (the
engine's declared options, checked against the line's engine) merge in the same order. `gap` on
a line is the silence before it; `frame` pins its start frame (later lines follow it). A line
with `"audio": "takes/line3.wav"` (relative to the batch file) is a recorded line: its face
follows the recording, and `text`, if given, is the recording's transcript.
A bare JSON list is accepted as the `lines` array.
"""
import math
import os
from dataclasses import dataclass, field

from .emotion import DEFAULT_EMOTION
from .json_files import read_json

_LINE_FIELDS = {"object", "character", "text", "audio", "emotion", "engine", "voice", "language", "seed",
                "gap", "frame", "options"}
_INHERITED = ("object", "emotion", "engine", "voice", "language")


@dataclass
class BatchLine:
    object: str
    text: str
    emotion: str = DEFAULT_EMOTION
    engine: str = None
    voice: str = None
    language: str = None   # None: the engine's default, or picked from the text's writing system
    seed: int = 0
    gap: float = None      # silence before this line; None = the plan's gap
    frame: int = None      # pinned start frame
    audio: str = None      # a recorded line: the face follows this file (text = its transcript, optional)
    number: int = 0        # 1-based position in the file (messages, take names)
    options: dict = field(default_factory=dict)   # engine option values (the request path checks them)


@dataclass
class BatchPlan:
    lines: list = field(default_factory=list)
    gap: float = 0.4


class BatchFileError(ValueError):
    """Lines of a batch file are malformed. The message lists every bad line (`line N: ...`);
    `problems` holds them as [(N, message)] and `plan` the well-formed lines, so a caller can
    check those too and report everything at once."""

    def __init__(self, source, problems, plan):
        self.problems, self.plan = problems, plan
        head = "1 line of the batch is bad" if len(problems) == 1 else f"{len(problems)} lines of the batch are bad"
        super().__init__(f"{source}: {head}:\n" + "\n".join(f"line {n}: {m}" for n, m in problems))


def load_batch(path) -> BatchPlan:
    """Read and validate a batch file; every error names the line it is on (BatchFileError
    lists every malformed line)."""
    data = read_json(path, "batch file")
    return parse_batch(data, source=path, base_dir=os.path.dirname(os.path.abspath(path)))


def parse_batch(data, source="batch", base_dir=".") -> BatchPlan:
    if isinstance(data, list):
        data = {"lines": data}
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        raise ValueError(f"{source}: expected an object with a 'lines' list")
    if not data["lines"]:
        raise ValueError(f"{source}: 'lines' is empty")
    defaults = data.get("defaults") or {}
    characters = data.get("characters") or {}
    if not isinstance(defaults, dict) or not isinstance(characters, dict):
        raise ValueError(f"{source}: 'defaults' and 'characters' must be objects")
    plan = BatchPlan(gap=_number(data.get("gap", 0.4), f"{source}: gap", minimum=0.0))
    problems = []
    for i, raw in enumerate(data["lines"], 1):
        try:
            plan.lines.append(_line(i, raw, defaults, characters, base_dir))
        except ValueError as e:
            problems.append((i, str(e)))
    if problems:
        raise BatchFileError(source, problems, plan)
    return plan


def _line(number, raw, defaults, characters, base_dir) -> BatchLine:
    """One line of the file, its fields inherited from its character and the defaults."""
    if not isinstance(raw, dict):
        raise ValueError("expected an object with at least 'text' and 'object'")
    unknown = set(raw) - _LINE_FIELDS
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}")
    character = {}
    if "character" in raw:
        if not isinstance(raw["character"], str) or raw["character"] not in characters:
            raise ValueError(f"character {raw['character']!r} is not in 'characters'")
        character = characters[raw["character"]]
        if not isinstance(character, dict):
            raise ValueError(f"character {raw['character']!r} must be an object")
    merged = {k: raw.get(k, character.get(k, defaults.get(k))) for k in _INHERITED}
    text, audio = raw.get("text"), raw.get("audio")
    if audio is not None:
        if not isinstance(audio, str) or not audio.strip():
            raise ValueError("'audio' must name a recording file")
        audio = os.path.join(base_dir, audio)   # relative to the batch file, like any path in a file
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise ValueError("'text' (the recording's transcript) is empty")
    elif not isinstance(text, str) or not text.strip():
        raise ValueError("'text' is missing or empty")
    if not merged["object"]:
        raise ValueError("no 'object' (give one on the line, its character or defaults)")
    for key in _INHERITED:
        if merged[key] is not None and not isinstance(merged[key], str):
            raise ValueError(f"'{key}' must be text, got {merged[key]!r}")
    if merged["emotion"] is not None and not merged["emotion"].strip():
        raise ValueError("'emotion' is empty: give one (e.g. \"calm:0.5\", \"neutral\") or leave it out")
    options = {}
    for where, given in (("defaults", defaults), ("the character", character), ("the line", raw)):
        found = given.get("options", {})
        if not isinstance(found, dict):
            raise ValueError(f"'options' of {where} must be an object of option values, got {found!r}")
        options.update(found)
    line = BatchLine(object=merged["object"], text=text, audio=audio, number=number, options=options,
                     seed=_whole(raw.get("seed", number - 1), "seed", minimum=0))
    for key in ("emotion", "engine", "voice", "language"):
        if merged[key] is not None:
            setattr(line, key, merged[key])
    if "gap" in raw:
        line.gap = _number(raw["gap"], "gap", minimum=0.0)
    if "frame" in raw:
        line.frame = _whole(raw["frame"], "frame")
    return line


def _number(value, what, minimum=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return value


def _whole(value, what, minimum=None):
    """A whole number (7 or 7.0; not 7.5, not "7")."""
    value = _number(value, what, minimum)
    if value != int(value):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    return int(value)
