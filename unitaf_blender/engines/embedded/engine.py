"""The embedded default engine: script -> speech + timeline -> procedural face.

English is spoken by a natural voice (hibari-tts, natural.py) by default; espeak-ng speaks
every other language and any explicitly chosen espeak voice (voice ids: voice_catalog.py).

Speech and face come from one internal representation (phoneme timeline + prosody +
emotion timeline, see speech.py); the face never re-listens to the audio. Works on a fresh
install: no download, no GPU, no torch.

`check()` validates a request without speaking (script, tags, emotion, voice, fps) and
picks the espeak-ng language from the text's writing system when the user chose none
(writing.py); `generate()` runs it first. Either voice gives a sample-exact phoneme timeline.

`lipsync()` makes a face for a RECORDED line with the same face model: with a transcript,
espeak's rendering of it is warped onto the recording (align.py, forced alignment); without
one, a less accurate mouth is read from the signal alone (signal_mouth.py).
`check_lipsync()` is its cheap pre-check.
"""
import math
import os
from dataclasses import replace

from ...core.emotion import emotion_label, parse_emotion
from ...core.performance import MAX_FPS, MIN_FPS, Performance
from ...core.recording import RecordingError, check_given
from ...core.signal import DEFAULT_FPS
from .. import (
    CheckedRequest,
    EngineError,
    EngineUnavailable,
    GenerateRequest,
    LipsyncRequest,
    check_cancel,
    reporter,
)
from ..assets import ModelFiles
from ..option_schema import STORE_OPTIONS, Option, VoiceInput
from . import writing
from .align import WINDOW_S
from .voice_catalog import (
    DEFAULT_NATURAL,
    ESPEAK,
    HIBARI,
    VOICE_FEATURES,
    VoiceIdError,
    download_feature,
    download_spec,
    natural_voice_list,
    parse_voice,
    voice_store,
)

ENGINE_VERSION = "1"
DEFAULT_LANGUAGE = "en-us"
_AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
MAX_CHARS_PER_S = 60.0         # 4x fast speech: a longer transcript cannot be this recording
# Voice variants offered for the two main English voices (espeak has ~100 more).
_VARIANTS = [("f1", "female 1"), ("f2", "female 2"), ("f3", "female 3"), ("f4", "female 4"),
             ("f5", "female 5"), ("m1", "male 1"), ("m2", "male 2"), ("m3", "male 3"),
             ("m4", "male 4"), ("m5", "male 5"), ("m6", "male 6"), ("m7", "male 7")]


class EmbeddedEngine:
    id = "embedded"
    label = "Embedded (offline)"
    # the model folders are where downloaded natural voices are looked for
    options = STORE_OPTIONS + (
        Option("fps", "number", DEFAULT_FPS, "Frame Rate", "frames per second of the face track",
               minimum=MIN_FPS, maximum=MAX_FPS, panel=None),
        Option("window_s", "number", WINDOW_S, "Alignment Window",
               "a recorded line's longest stretch aligned in one piece, in seconds", minimum=1.0, panel=None))
    voice_input = VoiceInput("id", "Voice", "Engine voice id (empty: the default, a natural voice for English); "
                             "the list shows natural voices first")
    emotion_mix = False
    wants_segments = False

    def assets(self, options=None) -> list:
        """The downloadable natural voices (voice_catalog.py), one feature each."""
        options = options or {}
        store = voice_store(cache_dir=options.get("cache_dir"), model_dir=options.get("model_dir"))
        return [ModelFiles("voices", "Natural voices", store, tuple(VOICE_FEATURES), voice_feature=download_feature)]

    @staticmethod
    def release_models() -> int:
        """Nothing stays loaded between takes that a user would want freed."""
        return 0

    def available(self, options=None):
        """(True, version text) or (False, why not). The natural voices are optional: without
        them English falls back to espeak-ng."""
        from . import natural
        try:
            from .espeak import get_espeak
            text = f"espeak-ng {get_espeak().version}"
        except EngineUnavailable as e:
            return False, str(e)
        ok, natural_text = natural.available()
        return True, text + (f"; natural voices: {natural_text}" if ok
                             else f"; natural voices unavailable ({natural_text})")

    def voices(self):
        """[(id, label)]: the natural English voices and their characters first (when
        hibari runs here), then espeak-ng's American and British English with variants,
        then every other language espeak-ng ships (the espeak name doubles as the language).
        Bare espeak ids ("en-us+f3") are accepted too."""
        from . import natural
        from .espeak import get_espeak
        es = get_espeak()
        base = {v.id: v.name for v in es.list_voices()}
        variants = set(es.list_variants())
        out = natural_voice_list() if natural.available()[0] else []
        for vid in ("en-us", "en"):
            if vid in base:
                out.append((f"{ESPEAK}:{vid}", f"{base[vid]} (espeak-ng)"))
                out += [(f"{ESPEAK}:{vid}+{v}", f"{base[vid]}, {label} (espeak-ng)") for v, label in _VARIANTS
                        if v in variants]
        out += [(f"{ESPEAK}:{vid}", name) for vid, name in base.items() if vid not in ("en-us", "en")]
        return out

    def check(self, request: GenerateRequest) -> CheckedRequest:
        """Everything that can be checked without speaking: emotion, inline tags, that the
        text is speakable and not too long, the voice/language, the fps option, and that the
        voice can read the text's writing system (see writing.py for the majority rule).

        Returns a CheckedRequest whose request has `voice` normalised ("EN-US+f3" ->
        "en-us+f3", "hibari:Heart" -> "hibari:heart") and `language` resolved; English with
        no voice chosen gets the natural voice (`voice` "hibari:heart", `language` "en-us"),
        or espeak-ng's with a note where the natural voice cannot run. Raises EngineError
        with a sentence the user can act on (a batch prefixes it with "line N:"), also for a
        natural voice whose model is not downloaded.

        The voice/language counts as chosen by the user unless `voice` and `language` are
        both None (or ""): an explicit "en-us" is obeyed or refused like any other, never
        switched. Front ends pass language=None when the user gave none. When not chosen
        and the text is mostly in another writing system (Chinese characters, Cyrillic,
        ...), the matching espeak-ng language is picked and said in `notes`; when chosen
        and unable to read it, this raises, naming the language to use.
        """
        from .espeak import get_espeak
        from .speech import ScriptError, prepare_script

        voice = request.voice
        if voice is not None and os.path.splitext(str(voice))[1].lower() in _AUDIO_EXTENSIONS:
            raise EngineError(
                "The embedded engine cannot imitate a recorded voice; pick one of its voices "
                "(e.g. 'hibari:heart', 'hibari:heart+deep', 'espeak:en-us+f3') or use the UniTAF engine for a "
                "voice prompt.")
        # only the options this engine knows are read (fps): neural ones pass through unused
        options = dict(request.options, fps=_check_fps(request.options.get("fps", DEFAULT_FPS)))
        try:
            default_emotion = parse_emotion(request.emotion)
        except ValueError as e:
            raise EngineError(f"Bad emotion: {e}.") from e
        try:
            spans = prepare_script(request.text, default_emotion)
        except ScriptError as e:
            raise EngineError(str(e)) from e

        es = get_espeak()
        explicit = voice is not None or request.language not in (None, "")
        notes = []
        try:
            chosen = parse_voice(voice) if voice is not None else None
        except VoiceIdError as e:
            raise EngineError(str(e)) from e
        if chosen is None and request.language in (None, "", DEFAULT_LANGUAGE):   # English: the natural voice
            chosen, why_not = _default_english()
            if why_not:
                notes.append(why_not)
        if chosen is None:
            chosen = parse_voice(request.language or DEFAULT_LANGUAGE)
        if chosen.backend == ESPEAK:
            chosen = replace(chosen, name=es.check_voice(chosen.name))
        spoken = " ".join(span.text for span in spans)
        found = writing.dominant_script(spoken)
        if found is not None and not writing.reads(chosen.language, found.key):
            if not found.language:
                raise EngineError(f"The text is written in {found.label}, which no espeak-ng "
                                  "voice can read; the embedded engine cannot speak it.")
            if explicit:
                raise EngineError(
                    f"The text is written in {found.label}, which the voice '{_shown(chosen, voice)}' cannot "
                    f"read ({_misread(chosen)}). Use the language "
                    f"'{found.language}' (--language {found.language}) or another voice that "
                    "reads it.")
            chosen = parse_voice(es.check_voice(found.language))
            notes = [f"The text is written in {found.label}; speaking it with espeak-ng "
                     f"'{chosen.name}'."]
        notes += _unreadable_letters(spoken, chosen, _shown(chosen, voice))
        if chosen.backend == HIBARI:
            _natural_model_path(chosen, options)       # downloaded? (a file lookup only)
            resolved = replace(request, voice=str(chosen), language=chosen.language, options=options)
        elif voice is not None:
            resolved = replace(request, voice=_shown(chosen, voice), options=options)
        else:
            resolved = replace(request, language=chosen.name, options=options)
        return CheckedRequest(resolved, notes)

    def generate(self, request: GenerateRequest, progress=None, cancel=None) -> Performance:
        """Text (with optional inline emotion tags) -> Performance at options["fps"] (30).
        Runs check() first and generates the checked request."""
        from .face import face_from_timeline
        from .speech import ScriptError, synthesize_script

        report = reporter(progress)
        checked = self.check(request)
        request = checked.request
        voice = parse_voice(request.voice or request.language)
        model_path = _natural_model_path(voice, request.options) if voice.backend == HIBARI else None
        fps = request.options.get("fps", DEFAULT_FPS)
        default_emotion = parse_emotion(request.emotion)

        check_cancel(cancel)
        report(0.0, "speech")
        try:
            speech = synthesize_script(request.text, default_emotion, voice=str(voice),
                                       seed=request.seed, cancel=cancel, model_path=model_path)
        except ScriptError as e:         # the voice produced no speech for this text
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
                  "seed": int(request.seed), "voice": str(voice), "language": voice.language,
                  "engine_version": f"{ENGINE_VERSION} ({_voice_version(voice)})",
                  "notes": list(checked.notes),
                  "spans": [{"text": s.text, "emotion": emotion_label(s.emotion),
                             "start": round(s.start, 6), "end": round(s.end, 6)}
                            for s in speech.spans]})


    def check_lipsync(self, request: LipsyncRequest) -> CheckedRequest:
        """Cheap checks of a recorded line: the recording (core.recording: its samples, or only
        its length and rate while `audio` is None and `seconds` gives the length), the emotion,
        the fps option and, when there is a transcript, everything `check` verifies for a script
        (tags, speakable text, language from its writing system) plus that it is not far too
        long for the recording. A blank transcript counts as none (said in `notes`).

        Returns a CheckedRequest whose request has `audio` as a 1-D float32 array (the same
        samples; still None when it was), `language` resolved (transcript only) and
        options["fps"] checked. Raises EngineError with a sentence the user can act on."""
        try:   # while `audio` is None only its length is known (the request path's cheap check)
            audio, seconds = check_given(request.audio, request.sample_rate, request.seconds)
        except RecordingError as e:
            raise EngineError(str(e)) from None
        options = dict(request.options, fps=_check_fps(request.options.get("fps", DEFAULT_FPS)))
        notes = []
        transcript = request.transcript
        if transcript is not None and not str(transcript).strip():
            transcript = None
            notes.append("The transcript is blank: the mouth comes from the sound alone (less accurate).")
        if transcript is None:
            try:
                parse_emotion(request.emotion)
            except ValueError as e:
                raise EngineError(f"Bad emotion: {e}.") from e
            return CheckedRequest(replace(request, audio=audio, transcript=None, options=options), notes)
        try:
            checked = self.check(GenerateRequest(text=str(transcript), emotion=request.emotion,
                                                 language=request.language, seed=request.seed, options=options))
        except EngineError as e:     # check() speaks of "the script": here it is a transcript
            raise EngineError(str(e).replace("The script", "The transcript")
                              .replace("the script", "the transcript")) from e
        from .speech import clean_text
        spoken = len(clean_text(str(transcript)))
        if spoken > MAX_CHARS_PER_S * max(seconds, 1.0):
            raise EngineError(f"The transcript ({spoken:,} characters) is far too long for a "
                              f"{seconds:.1f} s recording; check that it belongs to this recording.")
        resolved = replace(request, audio=audio, transcript=str(transcript),
                           language=checked.request.language, options=options)
        return CheckedRequest(resolved, notes + checked.notes)

    def lipsync(self, request: LipsyncRequest, progress=None, cancel=None) -> Performance:
        """A face for a recorded line -> Performance at options["fps"] (30) whose audio is
        the recording (same samples, same sample rate).

        With a transcript: forced alignment (align.py) gives the phoneme/word timeline on
        the recording's clock and the inline emotion tags their times; meta["mode"] is
        "aligned", meta["transcript_fit"] says how well the transcript fits (align.transcript_fit)
        and meta["warnings"] warns when it does not (another sentence or language). Without
        one: a mouth from the signal alone, LESS ACCURATE (no words, stand-in visemes from
        loudness and spectral shape, signal_mouth.py); meta["mode"] is "signal". Either way
        the face is the generate() face model with the recording as its audio, so the jaw
        follows the recording's loudness.
        Runs check_lipsync() first. Options: fps; window_s (longest stretch aligned in one
        piece, align.WINDOW_S).
        """
        import numpy as np

        from .espeak import get_espeak
        from .face import face_from_timeline

        report = reporter(progress)
        checked = self.check_lipsync(request)
        request = checked.request
        if request.audio is None:
            raise EngineError("Lip-sync needs the recording's samples; only its length was given.")
        fps = request.options.get("fps", DEFAULT_FPS)
        audio, sr = request.audio, int(request.sample_rate)
        default_emotion = parse_emotion(request.emotion)
        meta = {"engine": self.id, "source": request.source, "emotion": emotion_label(default_emotion),
                "seed": int(request.seed), "notes": list(checked.notes),
                "engine_version": f"{ENGINE_VERSION} (espeak-ng {get_espeak().version})"}
        check_cancel(cancel)
        if request.transcript is None:
            from .signal_mouth import signal_timeline
            report(0.0, "listening")
            phonemes, words = signal_timeline(audio, sr), []
            emo_times = np.array([0.0], np.float32)
            emo_vectors = np.asarray(default_emotion, np.float32).reshape(1, -1)
            meta.update(mode="signal", transcript=None)
        else:
            from .align import MISFIT_RATIO, align_transcript
            from .speech import ScriptError, synthesize_script
            report(0.0, "speech")
            try:
                reference = synthesize_script(request.transcript, default_emotion, voice=request.language,
                                              seed=request.seed, cancel=cancel)
            except ScriptError as e:
                raise EngineError(str(e)) from e
            _check_lengths(audio, sr, reference)
            check_cancel(cancel)
            report(0.2, "aligning")
            window = float(request.options.get("window_s", WINDOW_S))
            al = align_transcript(audio, sr, reference, window_s=window, cancel=cancel)
            phonemes, words = al.phonemes, al.words
            emo_times, emo_vectors = al.emotion_times, al.emotion_vectors
            meta.update(mode="aligned", transcript=request.transcript, language=request.language,
                        voice=request.language, transcript_fit=round(float(al.fit), 3))
            if al.fit > MISFIT_RATIO:
                meta["warnings"] = [
                    f"The transcript fits the recording poorly (fit {al.fit:.2f}; the words actually said give "
                    "about 0.86, another sentence or language about 1): check that it is what the recording says "
                    "(and its language), or leave it out for a mouth from the sound alone."]
        check_cancel(cancel)
        report(0.7, "face")
        channels, weights = face_from_timeline(phonemes, audio, sr, emo_times, emo_vectors,
                                               request.seed, fps=fps)
        check_cancel(cancel)
        report(1.0, "done")
        return Performance(audio=audio, sample_rate=sr, fps=fps, channels=channels, weights=weights,
                           phonemes=phonemes, words=words, emotion_times=emo_times,
                           emotion_vectors=emo_vectors, meta=meta)


def _check_lengths(audio, sample_rate, reference):
    """The transcript must plausibly be what the recording says: speech durations within
    a factor of 4 of espeak's (beyond that the DTW would only produce nonsense)."""
    from . import features as F
    power, _ = F.spectra(audio, sample_rate)
    spoken = F.speech_mask(F.frame_db(power)).sum() * F.HOP_S
    ref_power, _ = F.spectra(reference.audio, reference.sample_rate)
    expected = max(F.speech_mask(F.frame_db(ref_power)).sum() * F.HOP_S, 0.05)
    ratio = spoken / expected
    if not (0.25 <= ratio <= 4.0):
        raise EngineError(f"The recording has about {spoken:.1f} s of speech but the transcript reads "
                          f"in about {expected:.1f} s; check that the transcript belongs to this "
                          "recording (a speaking rate 4x off cannot be aligned).")


def _check_fps(value):
    try:
        fps = float(value)
    except (TypeError, ValueError):
        raise EngineError(f"The frame rate (fps) must be a number, got {value!r}.") from None
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise EngineError(f"The frame rate (fps) must be between {MIN_FPS:g} and {MAX_FPS:g}, "
                          f"got {value!r}.")
    return fps


def _default_english():
    """(VoiceId, note) for English when the user chose no voice: the natural voice, or
    espeak-ng's en-us with a note saying why the natural one cannot run here."""
    from . import natural
    ok, why = natural.available()
    if ok:
        return parse_voice(DEFAULT_NATURAL), ""
    return parse_voice(DEFAULT_LANGUAGE), (f"The natural voice cannot run here ({why}); speaking with "
                                           f"espeak-ng '{DEFAULT_LANGUAGE}'.")


def _natural_model_path(voice, options):
    """The model file of a natural voice: inside the hibari wheel, or downloaded into the model
    cache (options cache_dir / model_dir). Raises EngineError saying how to get a missing one."""
    from . import natural
    ok, why = natural.available()
    if not ok:
        raise EngineUnavailable(f"The natural voice '{voice}' cannot run here ({why}). Use an espeak-ng "
                                "voice (--voice espeak:en-us) or reinstall the extension for this platform.")
    spec = download_spec(voice.name)
    if spec is None:
        return natural.bundled_model_path(voice.name)
    store = voice_store(cache_dir=options.get("cache_dir"), model_dir=options.get("model_dir"), name=voice.name)
    return store.path(spec.id)


def _voice_version(voice):
    from . import natural
    from .espeak import get_espeak
    return natural.available()[1] if voice.backend == HIBARI else f"espeak-ng {get_espeak().version}"


def _shown(voice, given):
    """The voice as the user wrote it (bare espeak ids stay bare), normalised."""
    if voice.backend == ESPEAK and given is not None and not str(given).strip().lower().startswith(ESPEAK + ":"):
        return voice.name
    return str(voice)


def _misread(voice):
    return ("espeak-ng would spell it out letter by letter" if voice.backend == ESPEAK
            else "the natural voices read English only")


def _unreadable_letters(text, voice, shown):
    """Notes on a minority of letters the voice cannot read (spelt out by espeak-ng, skipped by
    the natural voice), or an EngineError for kanji in Japanese text: espeak's Japanese reads
    kana only."""
    language = voice.language
    han = writing.letter_counts(text, merge_japanese=False)[writing.HAN]
    if han and writing.reads(language, writing.JAPANESE):
        raise EngineError(
            f"The text has {han} kanji, which espeak-ng's Japanese voice '{language}' cannot "
            "read (it would say \"Chinese letter\" for each). Write them in hiragana.")
    notes = []
    for key, n in writing.letter_counts(text).items():
        if not writing.reads(language, key):
            them = "them" if n > 1 else "it"
            fate = (f"espeak-ng will spell {them} out" if voice.backend == ESPEAK
                    else f"the natural voice skips or misreads {them}")
            notes.append(f"The text has {n} {writing.letter_name(key)} letter{'s' if n > 1 else ''} "
                         f"that '{shown}' cannot read; {fate}.")
    return notes
