"""The embedded default engine: script -> espeak-ng speech + timeline -> procedural face.

Speech and face come from one internal representation (phoneme timeline + prosody +
emotion timeline, see speech.py); the face never re-listens to the audio. Works on a fresh
install: no download, no GPU, no torch.
"""
import os

from .. import EngineError, EngineUnavailable, GenerateRequest, check_cancel
from ...core.emotion import emotion_label, parse_emotion
from ...core.performance import Performance

ENGINE_VERSION = "1"
DEFAULT_FPS = 30.0
# Voice variants offered for the two main English voices (espeak has ~100 more).
_VARIANTS = [("f1", "female 1"), ("f2", "female 2"), ("f3", "female 3"), ("f4", "female 4"),
             ("f5", "female 5"), ("m1", "male 1"), ("m2", "male 2"), ("m3", "male 3"),
             ("m4", "male 4"), ("m5", "male 5"), ("m6", "male 6"), ("m7", "male 7")]


class EmbeddedEngine:
    id = "embedded"
    label = "Embedded (offline)"

    def available(self):
        """(True, version text) or (False, why not)."""
        try:
            from .espeak import get_espeak
            return True, f"espeak-ng {get_espeak().version}"
        except EngineUnavailable as e:
            return False, str(e)

    def voices(self):
        """[(id, label)]: American and British English with variants first, then every
        other language espeak-ng ships (the id doubles as the language)."""
        from .espeak import get_espeak
        es = get_espeak()
        base = {v.id: v.name for v in es.list_voices()}
        variants = set(es.list_variants())
        out = []
        for vid in ("en-us", "en"):
            if vid in base:
                out.append((vid, base[vid]))
                out += [(f"{vid}+{v}", f"{base[vid]}, {label}") for v, label in _VARIANTS
                        if v in variants]
        out += [(vid, name) for vid, name in base.items() if vid not in ("en-us", "en")]
        return out

    def generate(self, request: GenerateRequest, progress=None, cancel=None) -> Performance:
        """Text (with optional inline emotion tags) -> Performance at options["fps"] (30)."""
        from .espeak import get_espeak
        from .face import face_from_timeline
        from .speech import synthesize_script

        def report(fraction, stage):
            if progress is not None:
                progress(fraction, stage)

        voice = request.voice or request.language or "en-us"
        if os.path.splitext(str(voice))[1].lower() in (".wav", ".flac", ".mp3", ".ogg"):
            raise EngineError(
                "The embedded engine cannot imitate a recorded voice; pick one of its voices "
                "(e.g. 'en-us', 'en-us+f3') or use the UniTAF engine for a voice prompt.")
        voice = get_espeak().check_voice(voice)   # clear error before any work
        fps = float(request.options.get("fps", DEFAULT_FPS))
        if not fps > 0:
            raise EngineError(f"fps must be positive, got {fps}")
        try:
            default_emotion = parse_emotion(request.emotion)
        except ValueError as e:
            raise EngineError(f"Bad emotion: {e}") from e

        check_cancel(cancel)
        report(0.0, "speech")
        try:
            speech = synthesize_script(request.text, default_emotion, voice=voice,
                                       seed=request.seed, cancel=cancel)
        except ValueError as e:          # bad script: empty, only tags, too long, bad tag
            raise EngineError(str(e)) from e
        check_cancel(cancel)
        report(0.5, "face")
        channels, weights = face_from_timeline(
            speech.phonemes, speech.audio, speech.sample_rate, speech.emotion_times,
            speech.emotion_vectors, request.seed, fps=fps)
        check_cancel(cancel)
        report(1.0, "done")
        return Performance(
            audio=speech.audio, sample_rate=speech.sample_rate, fps=fps, channels=channels,
            weights=weights, phonemes=speech.phonemes, words=speech.words,
            emotion_times=speech.emotion_times, emotion_vectors=speech.emotion_vectors,
            meta={"engine": self.id, "text": request.text, "emotion": emotion_label(default_emotion),
                  "seed": int(request.seed), "voice": voice, "language": voice.split("+")[0],
                  "engine_version": f"{ENGINE_VERSION} (espeak-ng {get_espeak().version})",
                  "spans": [{"text": s.text, "emotion": emotion_label(s.emotion),
                             "start": round(s.start, 6), "end": round(s.end, 6)}
                            for s in speech.spans]})
