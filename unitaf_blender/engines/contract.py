"""The engine contract: the requests an engine runs, what it returns, its errors, and the members
every engine class has (`Engine`, checked against each registered engine by the tests).

An engine turns a `GenerateRequest` (or a `LipsyncRequest`, a face for a recorded line) into a
`core.performance.Performance`. Engines never import bpy and never touch Blender data: they run
on a worker thread (panel) or directly (CLI, batch), report progress through a callback and stop
at the next safe point when the `cancel` event is set. Front ends do not call an engine
directly: they go through the request path (request_path.py), which checks a request cheaply,
prepares it once and runs it.
"""
import threading
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Optional, Protocol, runtime_checkable

from ..core.emotion import DEFAULT_EMOTION


class EngineError(RuntimeError):
    """A generation failed for a reason the user can act on (message is shown as is)."""


class EngineUnavailable(EngineError):
    """The engine is not installed / its weights or runtime are missing."""


class Cancelled(Exception):
    """The user cancelled; nothing must have been written."""


ProgressFn = Callable[[float, str], None]   # (fraction 0..1, stage text)


@dataclass
class GenerateRequest:
    text: str                              # may carry inline tags: "[happy] Hi! [sad:0.6] Bye."
    emotion: str = DEFAULT_EMOTION         # "name[:intensity]" or 8 comma-separated floats
    voice: Optional[str] = None            # engine voice id or a path to a prompt .wav
    seed: int = 0
    language: Optional[str] = None         # None: the engine picks (embedded: from the writing system)
    options: dict = field(default_factory=dict)  # the engine's declared options (Engine.options) by name


@dataclass
class LipsyncRequest:
    audio: object                          # float32 mono samples of the recording (numpy array)
    sample_rate: int
    transcript: Optional[str] = None       # what is said (inline emotion tags allowed); None: signal only
    emotion: str = DEFAULT_EMOTION
    language: Optional[str] = None         # None: the engine picks (embedded: from the transcript's script)
    seed: int = 0
    source: str = ""                       # where the recording came from (a path), for the take's metadata
    options: dict = field(default_factory=dict)
    seconds: Optional[float] = None        # the recording's length while `audio` is None (not read yet)


@dataclass
class CheckedRequest:
    request: object                        # the GenerateRequest / LipsyncRequest to run, choices resolved
    notes: list = field(default_factory=list)   # what was decided for the user, one sentence each


def check_cancel(cancel: Optional[threading.Event]):
    """Raise Cancelled if the user asked to stop (the one cancel test of every engine)."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def reporter(progress: Optional[ProgressFn]) -> ProgressFn:
    """`progress` as a callable that is always safe to call: None reports nowhere, and the
    fraction is clamped to 0..1 so a stage's arithmetic can never show 101 %."""
    def report(fraction, stage):
        if progress is not None:
            progress(float(min(max(fraction, 0.0), 1.0)), stage)
    return report


@runtime_checkable
class Engine(Protocol):
    """What every engine class offers (the registry names the class; tests check each one).

    Declarations, read by every front end (none of them names an engine):
      options      the engine's options (option_schema.Option): the panel draws them, the CLI
                   parses `--option NAME=VALUE`, batch files are checked against them, and the
                   request path passes their values, parsed, as `request.options`
      voice_input  how a voice is chosen (option_schema.VoiceInput): an id from `voices()`, or a clip
      emotion_mix  the panel may send a mix of the eight emotions (8 comma-separated weights)
      wants_segments  `lipsync` works segment by segment: the request path gives a long recording's
                   text <-> time split as options["segments"] (segments.py)
      assets(options)  what the engine can download or install (assets.py), for the preferences
                   and the CLI's `models`, `voices download` and `install-runtime`

    Work:
      available(options)  (True, description) or (False, what is missing and how to get it)
      release_models()    free loaded models (GPU memory); how many model sets were freed
      voices()     [(voice id, label)]
      check(request)      -> CheckedRequest: every check that needs no heavy work (emotion, inline
                   tags, speakable text, voice/language, options, model files), raising EngineError
                   with a message the user can act on; it may resolve choices (e.g. the language
                   from the text's writing system) and say so in `notes`
      generate(request, progress, cancel) -> Performance (runs `check` first)
      check_lipsync(request)  the same for a LipsyncRequest; while `audio` is None only the
                   recording's length (`seconds`) and rate are checked
      lipsync(request, progress, cancel) -> Performance whose audio is the recording itself (same
                   samples, same clock), its phonemes/words the aligned transcript when there is one
    """
    id: ClassVar[str]
    label: ClassVar[str]
    options: ClassVar[tuple]
    voice_input: ClassVar[object]
    emotion_mix: ClassVar[bool]
    wants_segments: ClassVar[bool]

    def assets(self, options: Optional[dict] = None) -> list: ...

    def available(self, options: Optional[dict] = None) -> tuple: ...

    def release_models(self) -> int: ...

    def voices(self) -> list: ...

    def check(self, request: GenerateRequest) -> CheckedRequest: ...

    def generate(self, request: GenerateRequest, progress: Optional[ProgressFn] = None,
                 cancel: Optional[threading.Event] = None): ...

    def check_lipsync(self, request: LipsyncRequest) -> CheckedRequest: ...

    def lipsync(self, request: LipsyncRequest, progress: Optional[ProgressFn] = None,
                cancel: Optional[threading.Event] = None): ...
