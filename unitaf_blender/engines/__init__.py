"""Engine registry and the request/interface every engine implements.

An engine turns a `GenerateRequest` into a `core.performance.Performance`. Engines never
import bpy and never touch Blender data: they run on a worker thread (GUI) or directly
(CLI/batch), report progress through a callback and stop at the next safe point when the
`cancel` event is set.

Every engine offers:
  id, label                 class attributes
  available(options=None)   (True, description) or (False, what is missing and how to get it)
  voices()                  [(voice id, label)]
  check(request)            -> CheckedRequest: every check that needs no heavy work (emotion,
                            inline tags, speakable text, voice/language, options, model files),
                            raising EngineError with a message the user can act on. It may
                            resolve choices (e.g. the language picked from the text's writing
                            system) and say so in `notes`. Batches check every line with it
                            before generating any; `generate` runs it too.
  generate(request, progress, cancel) -> Performance
  check_lipsync(request: LipsyncRequest) -> CheckedRequest   (request field: a LipsyncRequest)
  lipsync(request: LipsyncRequest, progress, cancel) -> Performance
                            a face for a RECORDED line: the Performance's audio is the
                            recording itself (same samples, same clock), its phonemes/words
                            the aligned transcript (when there is one).
"""
import threading
from dataclasses import dataclass, field
from typing import Callable, Optional


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
    emotion: str = "calm:0.0"              # "name[:intensity]" or 8 comma-separated floats
    voice: Optional[str] = None            # engine voice id or a path to a prompt .wav
    seed: int = 0
    language: Optional[str] = None         # None: the engine picks (embedded: from the writing system)
    options: dict = field(default_factory=dict)  # engine-specific (e.g. emo_alpha, device)


@dataclass
class LipsyncRequest:
    audio: object                          # float32 mono samples of the recording (numpy array)
    sample_rate: int
    transcript: Optional[str] = None       # what is said (inline emotion tags allowed); None: signal only
    emotion: str = "calm:0.0"
    language: Optional[str] = None         # None: the engine picks (embedded: from the transcript's script)
    seed: int = 0
    source: str = ""                       # where the recording came from (a path), for the take's metadata
    options: dict = field(default_factory=dict)


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


# id -> (label, description, module path, factory name). Modules are imported lazily so
# that a missing optional runtime (torch) never breaks the add-on or the CLI.
_ENGINES = {}


def register_engine(engine_id, label, description, module, factory):
    _ENGINES[engine_id] = (label, description, module, factory)


def list_engines():
    """[(id, label, description)] in registration order (the first is the default)."""
    return [(k, v[0], v[1]) for k, v in _ENGINES.items()]


def default_engine_id():
    if not _ENGINES:
        raise EngineUnavailable("No engine is installed in this build of UniTAF for Blender.")
    return next(iter(_ENGINES))


def get_engine(engine_id=None):
    """Instantiate an engine by id (None = default). Raises EngineUnavailable with a clear message."""
    import importlib
    engine_id = engine_id or default_engine_id()
    if engine_id not in _ENGINES:
        known = ", ".join(_ENGINES) or "none"
        raise EngineUnavailable(f"Unknown engine '{engine_id}' (installed: {known}).")
    label, _, module, factory = _ENGINES[engine_id]
    try:
        mod = importlib.import_module(module, __name__)
    except ImportError as e:
        raise EngineUnavailable(f"The {label} engine cannot load: {e}") from e
    return getattr(mod, factory)()


register_engine(
    "embedded", "Embedded (offline)",
    "natural English voice (hibari) or espeak-ng, a phoneme timeline driving a procedural face; no download, no GPU",
    ".embedded.engine", "EmbeddedEngine")
register_engine(
    "unitaf", "UniTAF (neural)",
    "IndexTTS2 speech in the voice of a clip + UniTAF face; needs PyTorch and the model download (GPU advised)",
    ".unitaf.engine", "UniTAFEngine")
