"""The one way a request goes, below every front end (the CLI, batch files, the panel and its
jobs), in named steps:

    RawRequest --check--> Checked --prepare--> Prepared --perform--> Performance

check    cheap: the engine found in the registry, the option values the user gave parsed by the
         options the engine declares (plus those of emotion 'auto'), the engine request built
         and checked by the engine. A recording is known by its header only (length and rate)
         and emotion 'auto' by its model's files: no model loads and no recording is decoded,
         so a batch checks every line first and lists every bad one together.
prepare  once, before the engine runs (in the panel: on the job's worker thread), with progress:
         the recording read and checked in full, emotion 'auto' read from the words by the
         text-emotion model, a long recording cut at its aligned pauses for an engine that works
         segment by segment, then the engine's check of what that gave.
perform  the engine's `generate` (a line to speak) or `lipsync` (a recorded line).
"""
from dataclasses import dataclass, field, replace
from typing import Optional

from ..core.emotion import DEFAULT_EMOTION, is_auto
from . import auto_emotion
from .contract import GenerateRequest, LipsyncRequest, check_cancel, reporter
from .option_schema import merged, parse_options
from .registry import get_engine
from .segments import with_segments


@dataclass
class RawRequest:
    """What a front end collected, before any check."""
    engine_id: Optional[str] = None            # None: the default engine
    text: Optional[str] = None                 # the line to speak; with a recording, its transcript (None: none)
    recording: Optional[object] = None         # a recorded line (core.recording.RecordingSource): the face follows it
    emotion: str = DEFAULT_EMOTION
    voice: Optional[str] = None
    language: Optional[str] = None
    seed: int = 0
    options: dict = field(default_factory=dict)   # option name -> value as given (text from the CLI)


@dataclass
class Checked:
    """A request every cheap check has passed; the recording may still be unread, 'auto' unresolved."""
    engine: object
    request: object                            # GenerateRequest or LipsyncRequest
    notes: list = field(default_factory=list)  # what was decided for the user, one sentence each
    recording: Optional[object] = None

    def with_options(self, **changes) -> "Checked":
        """The same request with some options changed (e.g. a retry on the CPU)."""
        return replace(self, request=replace(self.request, options=dict(self.request.options, **changes)))


@dataclass
class Prepared:
    """A request ready for its engine to run."""
    engine: object
    request: object
    notes: list = field(default_factory=list)  # decided while preparing (not already in Checked.notes)


def options_of(engine) -> tuple:
    """Every option a request to `engine` may carry: its own and those of emotion 'auto'."""
    return merged(engine.options, auto_emotion.TEXT_EMOTION_OPTIONS)


def check(raw: RawRequest) -> Checked:
    """Step 1, cheap (see the module's docstring). Raises EngineError (an unknown engine or
    option, a bad value, what the engine refuses) or core.recording.RecordingError."""
    engine = get_engine(raw.engine_id)
    options = parse_options(options_of(engine), raw.options, f"The {engine.label} engine")
    if raw.recording is None:
        request = GenerateRequest(text=raw.text, emotion=raw.emotion, voice=raw.voice, seed=raw.seed,
                                  language=raw.language, options=options)
    else:
        info = raw.recording.info()
        request = LipsyncRequest(audio=None, sample_rate=info.sample_rate, seconds=info.seconds,
                                 transcript=raw.text, emotion=raw.emotion, language=raw.language, seed=raw.seed,
                                 source=raw.recording.source, options=options)
    checked = auto_emotion.check_request(engine, request)
    return Checked(engine, checked.request, list(checked.notes), raw.recording)


def prepare(checked: Checked, progress=None, cancel=None) -> Prepared:
    """Step 2, the heavy work before the engine runs, done once (see the module's docstring)."""
    report, engine, request, notes = reporter(progress), checked.engine, checked.request, []
    if checked.recording is not None and request.audio is None:
        report(0.0, "reading the recording")
        audio, rate = checked.recording.read()
        request = replace(request, audio=audio, sample_rate=rate, seconds=None)
        check_cancel(cancel)
    if is_auto(request.emotion):
        report(0.0, "emotion from the words")
        request, notes = auto_emotion.resolve_auto(request)
        check_cancel(cancel)
    lipsync = isinstance(request, LipsyncRequest)
    if lipsync and engine.wants_segments:
        report(0.0, "aligning the transcript")
        request = with_segments(engine, request, cancel)
        check_cancel(cancel)
    final = (engine.check_lipsync if lipsync else engine.check)(request)
    return Prepared(engine, final.request, notes + [n for n in final.notes if n not in checked.notes])


def perform(prepared: Prepared, progress=None, cancel=None):
    """Step 3: the engine's Performance for the prepared request."""
    if isinstance(prepared.request, LipsyncRequest):
        return prepared.engine.lipsync(prepared.request, progress, cancel)
    return prepared.engine.generate(prepared.request, progress, cancel)
