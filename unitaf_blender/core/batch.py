"""Batch files: many lines, several characters, one after another (pure Python).

Format (JSON)::

    {
      "gap": 0.4,                              # seconds of silence between lines (default 0.4)
      "defaults": {"emotion": "calm:0.5", "engine": "embedded", "voice": null, "language": null},
      "characters": {"Ada": {"object": "AdaHead", "voice": "en-us+f3"}},   # optional
      "lines": [
        {"character": "Ada", "text": "[happy] Hello Bob!", "emotion": "happy:0.8"},
        {"object": "BobHead", "text": "Oh. Hi.", "emotion": "sad:0.4", "gap": 1.0, "seed": 7},
        {"object": "BobHead", "text": "Again.", "frame": 400}
      ]
    }

A line takes its fields from itself, then its character, then `defaults`. `gap` on a line is
the silence before it; `frame` pins its start frame (later lines follow it). A line with
`"audio": "takes/line3.wav"` (relative to the batch file) is a recorded line: its face follows
the recording, and `text`, if given, is the recording's transcript.
A bare JSON list is accepted as the `lines` array.
"""
import os
from dataclasses import dataclass, field

from .json_files import read_json

_LINE_FIELDS = {"object", "character", "text", "audio", "emotion", "engine", "voice", "language", "seed",
                "gap", "frame"}
_INHERITED = ("object", "emotion", "engine", "voice", "language")


@dataclass
class BatchLine:
    object: str
    text: str
    emotion: str = "calm:0.5"
    engine: str = None
    voice: str = None
    language: str = None   # None: the engine's default, or picked from the text's writing system
    seed: int = 0
    gap: float = None      # silence before this line; None = the plan's gap
    frame: int = None      # pinned start frame
    audio: str = None      # a recorded line: the face follows this file (text = its transcript, optional)


@dataclass
class BatchPlan:
    lines: list = field(default_factory=list)
    gap: float = 0.4


def load_batch(path) -> BatchPlan:
    """Read and validate a batch file; every error names the line it is on."""
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
    for i, raw in enumerate(data["lines"], 1):
        where = f"{source}: line {i}"
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: expected an object with at least 'text' and 'object'")
        unknown = set(raw) - _LINE_FIELDS
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        character = {}
        if "character" in raw:
            if raw["character"] not in characters:
                raise ValueError(f"{where}: character '{raw['character']}' is not in 'characters'")
            character = characters[raw["character"]]
        merged = {k: raw.get(k, character.get(k, defaults.get(k))) for k in _INHERITED}
        text, audio = raw.get("text"), raw.get("audio")
        if audio is not None:
            if not isinstance(audio, str) or not audio.strip():
                raise ValueError(f"{where}: 'audio' must name a recording file")
            audio = os.path.join(base_dir, audio)   # relative to the batch file, like any path in a file
            if text is not None and (not isinstance(text, str) or not text.strip()):
                raise ValueError(f"{where}: 'text' (the recording's transcript) is empty")
        elif not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}: 'text' is missing or empty")
        if not merged["object"]:
            raise ValueError(f"{where}: no 'object' (give one on the line, its character or defaults)")
        line = BatchLine(object=str(merged["object"]), text=text, audio=audio,
                         seed=int(_number(raw.get("seed", i - 1), f"{where}: seed")))
        for key in ("emotion", "engine", "voice", "language"):
            if merged[key] is not None:
                setattr(line, key, str(merged[key]))
        if "gap" in raw:
            line.gap = _number(raw["gap"], f"{where}: gap", minimum=0.0)
        if "frame" in raw:
            line.frame = int(_number(raw["frame"], f"{where}: frame"))
        plan.lines.append(line)
    return plan


def _number(value, what, minimum=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return value
