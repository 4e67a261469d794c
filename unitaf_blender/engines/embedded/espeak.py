"""A small ctypes binding to the espeak-ng library shipped in the `espeakng-loader` wheel.

Only what the embedded engine needs: synthesis into a buffer with phoneme/word/sentence/mark
events carrying absolute sample positions, the voice list, and explicit prosody parameters.

espeak-ng is a process-wide singleton and not re-entrant, so there is one instance guarded
by a lock; the Blender add-on calls it from a worker thread. Every parameter is set before
every utterance because espeak keeps them across calls (even across voice changes).

An exception raised in the synthesis callback (Ctrl-C lands there: Python runs signal handlers
at the next Python code, which during a long utterance is the callback) cannot cross the C
library: ctypes would print it and drop it. It is kept, espeak is stopped, and it is raised again
once espeak has returned.
"""
import os
import sys
import tempfile
import threading
from ctypes import (
    CDLL,
    CFUNCTYPE,
    POINTER,
    Structure,
    Union,
    c_char,
    c_char_p,
    c_int,
    c_long,
    c_short,
    c_size_t,
    c_ubyte,
    c_uint,
    c_void_p,
    string_at,
)
from dataclasses import dataclass, field

import numpy as np

from .. import EngineError, EngineUnavailable

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_SSML = 0x10
_RATE, _VOLUME, _PITCH, _RANGE, _PUNCTUATION, _CAPITALS, _WORDGAP = 1, 2, 3, 4, 5, 6, 7
_EVENT_NAMES = {1: "word", 2: "sentence", 3: "mark", 5: "end", 6: "msg_terminated", 7: "phoneme"}

# Above ~450 wpm espeak switches to sonic time-stretching and its event positions drift
# from the audio by hundreds of samples (measured), so the rate is clamped below that.
RATE_MIN, RATE_MAX = 80, 449


class _Id(Union):
    _fields_ = [("number", c_int), ("name", c_char_p), ("string", c_char * 8)]


class _Event(Structure):
    _fields_ = [("type", c_int), ("unique_identifier", c_uint), ("text_position", c_int),
                ("length", c_int), ("audio_position", c_int), ("sample", c_int),
                ("user_data", c_void_p), ("id", _Id)]


class _Voice(Structure):
    _fields_ = [("name", c_char_p), ("languages", c_void_p), ("identifier", c_char_p),
                ("gender", c_ubyte), ("age", c_ubyte), ("variant", c_ubyte), ("xx1", c_ubyte),
                ("score", c_int), ("spare", c_void_p)]


_SYNTH_CALLBACK = CFUNCTYPE(c_int, POINTER(c_short), c_int, POINTER(_Event))


@dataclass
class Event:
    type: str            # "phoneme" | "word" | "sentence" | "mark" | "end" | "msg_terminated"
    sample: int          # absolute sample index from the start of the utterance
    text_position: int   # 1-based character index into the input text (words)
    length: int          # word length in characters
    name: str = ""       # phoneme mnemonic or mark name


@dataclass
class Utterance:
    audio: np.ndarray    # float32 mono in [-1, 1]
    sample_rate: int
    events: list = field(default_factory=list)


@dataclass
class VoiceInfo:
    id: str              # name for synthesize(voice=...), e.g. "en-us"
    name: str            # espeak's display name
    languages: tuple     # language codes, most preferred first
    gender: str          # "male" | "female" | ""


class Espeak:
    """The one espeak-ng instance of this process (use `get_espeak()`)."""

    def __init__(self):
        try:
            import espeakng_loader
            lib_path = espeakng_loader.get_library_path()
            data_path = espeakng_loader.get_data_path()
        except (ImportError, RuntimeError) as e:
            raise EngineUnavailable(
                "The embedded engine needs the 'espeakng-loader' wheel (espeak-ng), which is "
                f"missing or incomplete: {e}. Reinstall the extension.") from e
        try:
            lib = CDLL(lib_path)
        except OSError as e:
            raise EngineUnavailable(f"Cannot load the espeak-ng library {lib_path}: {e}") from e
        lib.espeak_Initialize.argtypes = [c_int, c_int, c_char_p, c_int]
        lib.espeak_Initialize.restype = c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [c_char_p]
        lib.espeak_SetVoiceByName.restype = c_int
        lib.espeak_SetVoiceByFile.argtypes = [c_char_p]
        lib.espeak_SetVoiceByFile.restype = c_int
        lib.espeak_ng_SetRandSeed.argtypes = [c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        lib.espeak_SetParameter.argtypes = [c_int, c_int, c_int]
        lib.espeak_SetParameter.restype = c_int
        lib.espeak_Synth.argtypes = [c_char_p, c_size_t, c_uint, c_int, c_uint, c_uint,
                                     POINTER(c_uint), c_void_p]
        lib.espeak_Synth.restype = c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = c_int
        lib.espeak_ListVoices.argtypes = [c_void_p]
        lib.espeak_ListVoices.restype = POINTER(POINTER(_Voice))
        lib.espeak_Info.argtypes = [POINTER(c_char_p)]
        lib.espeak_Info.restype = c_char_p

        # espeak opens files through a narrow char* path: on Windows that is the ANSI code
        # page, so a profile path outside it fails here with the error below.
        self.sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, _c_path(data_path),
            _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT)
        if self.sample_rate <= 0:
            raise EngineUnavailable(f"espeak-ng failed to initialise with data at {data_path}.")
        self._lib = lib
        self.version = lib.espeak_Info(None).decode(errors="replace")
        self.data_path = data_path
        self._lock = threading.Lock()
        self._chunks, self._events, self._cancel, self._raised = [], [], None, None
        self._on_synth_bound = self._on_synth      # the callable ctypes reports a callback error for
        self._callback = _SYNTH_CALLBACK(self._on_synth_bound)  # keep a reference: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)
        self._voices = None
        self._idents = {}
        self._voice_lines = {}

    @property
    def deterministic(self) -> bool:
        """False where the temp folder's path does not suit espeak: then voices load by name and
        espeak's cross-call state shows through as tiny differences (see _load_voice)."""
        return _voice_folder_parent() is not None

    # --- synthesis ---------------------------------------------------------------------

    def _on_synth(self, wav, n_samples, events):
        # Returning 1 aborts the synthesis: that is how a long utterance is cancelled or stopped.
        try:
            if self._raised is not None:
                return 1
            self._keep(wav, n_samples, events)
            return 1 if (self._cancel is not None and self._cancel.is_set()) else 0
        except BaseException as exc:   # noqa: BLE001 - kept and raised again by synthesize
            self._raised = exc
            return 1

    def _keep(self, wav, n_samples, events):
        if n_samples > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        i = 0
        while events[i].type != 0:          # espeakEVENT_LIST_TERMINATED
            ev = events[i]
            kind = _EVENT_NAMES.get(ev.type)
            if kind is not None:
                if kind == "phoneme":
                    name = string_at(ev.id.string, 8).split(b"\0", 1)[0].decode(errors="replace")
                elif kind == "mark":
                    name = ev.id.name.decode(errors="replace") if ev.id.name else ""
                else:
                    name = ""
                self._events.append(Event(kind, ev.sample, ev.text_position, ev.length, name))
            i += 1

    def _unraisable(self, previous):
        """A sys.unraisablehook that keeps what the callback raised before its first line (a
        signal handler runs there) and passes everything else on to `previous`."""
        ours = repr(self._on_synth_bound)

        def hook(report):
            # Python 3.11 passes the callback as the report's object; 3.13 names it in err_msg
            if self._raised is None and (report.object == self._on_synth_bound or (
                    report.object is None and ours in (report.err_msg or ""))):
                self._raised = report.exc_value
            else:
                previous(report)
        return hook

    def synthesize(self, text, voice="en-us", rate=175, pitch=50, pitch_range=50, volume=100,
                   word_gap=0, ssml=False, seed=0, cancel=None) -> Utterance:
        """Speak `text` into a buffer. All prosody parameters are applied to this call only.

        rate: words per minute (clamped to 80..449); pitch, pitch_range: 0..100;
        volume: 0..200 (keep 100 and scale the float output to avoid clipping);
        word_gap: extra pause between words in units of 10 ms at the default rate.
        voice: an id from list_voices(), optionally with a variant ("en-us+f3").
        seed: seeds espeak's noise generator (breathy/whisper variants).
        cancel: a threading.Event; when set, espeak stops at its next callback and the
        (truncated) utterance is returned: the caller must check the event and discard it.
        Raises EngineError for an unknown voice.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError("espeak: nothing to say (empty text)")
        data = text.encode("utf-8") + b"\0"
        voice = self.check_voice(voice)
        with self._lock:
            err = self._load_voice(voice)
            if err != 0:
                raise EngineError(f"espeak-ng could not load the voice '{voice}'.")
            self._lib.espeak_ng_SetRandSeed(int(seed) & 0x7FFFFFFF)
            params = ((_RATE, int(min(max(rate, RATE_MIN), RATE_MAX))),
                      (_PITCH, int(min(max(pitch, 0), 100))),
                      (_RANGE, int(min(max(pitch_range, 0), 100))),
                      (_VOLUME, int(min(max(volume, 0), 200))),
                      (_WORDGAP, int(max(word_gap, 0))),
                      (_PUNCTUATION, 0), (_CAPITALS, 0))
            for param, value in params:
                self._lib.espeak_SetParameter(param, value, 0)
            self._chunks, self._events, self._cancel, self._raised = [], [], cancel, None
            previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable(sys.unraisablehook)
            try:
                flags = _CHARS_UTF8 | (_SSML if ssml else 0)
                err = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, flags, None, None)
                self._lib.espeak_Synchronize()
                chunks, events, raised = self._chunks, self._events, self._raised
            finally:
                sys.unraisablehook = previous_hook
                self._chunks, self._events, self._cancel, self._raised = [], [], None, None
            if raised is not None:
                raise raised
        if err != 0:
            raise EngineError(f"espeak-ng synthesis failed (error {err}).")
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        audio = pcm.astype(np.float32) / 32768.0
        return Utterance(audio, self.sample_rate, events)

    # --- voices -------------------------------------------------------------------------

    def _load_voice(self, voice) -> int:
        """Load espeak's voice + variant + "flutter 0" + "roughness 8"; espeak's error code.

        espeak's wave generator keeps two counters in C statics that run on across calls: the
        phase of its pitch "flutter" and the glottal-cycle count behind "roughness" (an
        amplitude dip every n-th cycle). Both make the same text sound slightly different
        depending on what was spoken before. Loading the voice from our own copy with both
        effects off (roughness >= 8 means none) makes every call reproducible, at the cost
        of a slightly steadier voice. espeak reads the file while loading it, so the copy lives
        in a temporary folder only that long: nothing is left behind, however the process ends.
        By name where no usable temp folder exists. Called with the lock held."""
        parent = _voice_folder_parent()
        if parent is not None:
            try:
                with tempfile.TemporaryDirectory(prefix="ut", dir=parent) as folder:
                    path = os.path.join(folder, "v")
                    with open(path, "w", encoding="utf-8") as f:
                        f.write("\n".join(self._voice_file_lines(voice)))
                    return self._lib.espeak_SetVoiceByFile(_c_path(path))
            except OSError:
                pass
        return self._lib.espeak_SetVoiceByName(voice.encode())

    def _voice_file_lines(self, voice):
        lines = self._voice_lines.get(voice)
        if lines is None:
            base, _, variant = voice.partition("+")
            lines = _read_lines(os.path.join(self.data_path, "lang", *self._idents[base].split("/")))
            if variant:
                lines += [ln for ln in _read_lines(os.path.join(self.data_path, "voices", "!v", variant))
                          if ln.split()[:1] not in (["language"], ["name"])]
            lines = self._voice_lines[voice] = lines + ["flutter 0", "roughness 8", ""]
        return lines

    def list_variants(self) -> list:
        """Voice variants that can follow a voice id after '+' (f1..f5, m1..m7, klatt, ...)."""
        folder = os.path.join(self.data_path, "voices", "!v")
        return sorted(n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n)))

    def check_voice(self, voice) -> str:
        """Normalise a voice id ("EN-US+f3" -> "en-us+f3") or raise EngineError saying how to
        find valid ones. espeak itself accepts unknown variants silently, hence this check."""
        base, _, variant = str(voice or "").strip().partition("+")
        base = base.lower()
        ids = {v.id for v in self.list_voices()}
        if base not in ids:
            near = sorted(i for i in ids if i.split("-")[0] == base.split("-")[0])
            hint = f" Close matches: {', '.join(near)}." if near else ""
            raise EngineError(
                f"The embedded engine (espeak-ng) has no voice or language '{voice}'.{hint} "
                "List valid ids with EmbeddedEngine().voices() or `python -m unitaf_blender voices` "
                "(e.g. 'en-us', 'en' for British English, 'de', 'fr', 'en-us+f3').")
        if variant and variant not in self.list_variants():
            raise EngineError(
                f"Unknown espeak-ng voice variant '+{variant}' in '{voice}'. Valid variants "
                f"include {', '.join(v for v in ('f1', 'f2', 'f3', 'f4', 'f5', 'm1', 'm3', 'klatt', 'whisper'))}.")
        return base + ("+" + variant if variant else "")

    def list_voices(self) -> list:
        """All voices espeak-ng knows, as VoiceInfo, sorted by id."""
        with self._lock:
            if self._voices is None:
                self._voices = self._read_voices()
            return list(self._voices)

    def _read_voices(self):
        out, arr, i = [], self._lib.espeak_ListVoices(None), 0
        while arr[i]:
            v = arr[i].contents
            langs, pos = [], v.languages
            while pos:   # (priority byte, NUL-terminated name) pairs ending with a 0 byte
                if string_at(pos, 1) == b"\0":
                    break
                name = c_char_p(pos + 1).value
                langs.append(name.decode(errors="replace"))
                pos += 2 + len(name)
            i += 1
            ident = (v.identifier or b"").decode(errors="replace")
            if not self._has_dictionary(ident, langs):
                continue
            # The file name is what espeak_SetVoiceByName accepts ("en" works, "en-gb" not).
            vid = ident.rsplit("/", 1)[-1].lower()
            self._idents[vid] = ident
            gender = {1: "male", 2: "female"}.get(v.gender, "")
            out.append(VoiceInfo(vid, (v.name or b"").decode(errors="replace"), tuple(langs), gender))
        return sorted(out, key=lambda v: v.id)

    def _has_dictionary(self, ident, langs):
        """Some voices in the wheel lack their *_dict file (fo, kaa, xex); hide those."""
        dictionary = langs[0].split("-")[0] if langs else ident.rsplit("/", 1)[-1]
        try:
            with open(os.path.join(self.data_path, "lang", *ident.split("/")), encoding="utf-8",
                      errors="replace") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 2 and parts[0] == "dictionary":
                        dictionary = parts[1]
        except OSError:
            pass
        return os.path.isfile(os.path.join(self.data_path, dictionary + "_dict"))


def _c_path(path):
    try:
        return path.encode("mbcs") if os.name == "nt" else os.fsencode(path)
    except UnicodeEncodeError as e:
        raise EngineUnavailable(
            f"espeak-ng cannot open files under {path!r} (characters outside the system code "
            "page). Install the extension in a folder with a plain ASCII path.") from e


def _read_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return [ln.rstrip("\n") for ln in f]


def _voice_folder_parent():
    """The folder for the voice files' temporary folders (`ut` + 8 lower-case characters, then
    the file `v`): the temp folder, else /tmp, or None when neither suits espeak_SetVoiceByFile,
    which lower-cases the path, truncates it at 59 bytes and opens it with a narrow char*."""
    for parent in (tempfile.gettempdir(), "/tmp"):
        try:
            if (len(parent) <= 37 and parent.isascii() and os.path.isdir(parent)
                    and os.path.samefile(parent, parent.lower())):
                return parent
        except OSError:
            continue
    return None


_instance = None
_instance_lock = threading.Lock()


def get_espeak() -> Espeak:
    """The process-wide espeak-ng instance (initialised on first use)."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = Espeak()
        return _instance
