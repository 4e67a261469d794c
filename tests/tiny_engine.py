"""A tiny engine for the tests of the engine contract (test_new_engine.py): registered at test time,
it declares one option and is found, drawn, parsed and checked by every front end through the
registry. It speaks nothing: its "speech" is a quiet tone the length of the text, and the jaw
opens with the option's mood. A test double, never registered by the product."""
import numpy as np

from unitaf_blender.core.emotion import emotion_label, parse_emotion
from unitaf_blender.core.performance import Performance
from unitaf_blender.engines import CheckedRequest, EngineError, check_cancel, reporter
from unitaf_blender.engines.option_schema import Choice, Option, VoiceInput

RATE, FPS = 16000, 30.0
MOODS = {"calm": 0.2, "lively": 0.8}


class TinyEngine:
    id = "tiny"
    label = "Tiny (test)"
    options = (Option("mood", "choice", "calm", "Mood", "how wide the tiny engine opens the jaw",
                      choices=tuple(Choice(m, m.capitalize()) for m in MOODS)),)
    voice_input = VoiceInput("id", "Voice", "the tiny engine has one voice")
    emotion_mix = False
    wants_segments = False

    def assets(self, options=None):
        return []

    def available(self, options=None):
        return True, "always"

    @staticmethod
    def release_models():
        return 0

    def voices(self):
        return [("tone", "A quiet tone")]

    def check(self, request):
        if not request.text or not request.text.strip():
            raise EngineError("The tiny engine needs some text.")
        try:
            parse_emotion(request.emotion)
        except ValueError as e:
            raise EngineError(f"Bad emotion: {e}.") from e
        return CheckedRequest(request)

    def generate(self, request, progress=None, cancel=None):
        request = self.check(request).request
        report = reporter(progress)
        report(0.0, "tone")
        check_cancel(cancel)
        seconds = 0.1 * len(request.text)
        t = np.arange(int(seconds * RATE)) / RATE
        audio = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        n = int(round(seconds * FPS)) + 1
        jaw = MOODS[request.options.get("mood", "calm")] * np.abs(np.sin(np.arange(n) / FPS * 2 * np.pi))
        report(1.0, "done")
        return Performance(audio=audio, sample_rate=RATE, fps=FPS, channels=("jawOpen",),
                           weights=jaw[:, None].astype(np.float32),
                           meta={"engine": self.id, "text": request.text, "seed": request.seed,
                                 "emotion": emotion_label(parse_emotion(request.emotion)),
                                 "mood": request.options.get("mood", "calm")})

    def check_lipsync(self, request):
        raise EngineError("The tiny engine does not animate recordings.")

    def lipsync(self, request, progress=None, cancel=None):
        return self.check_lipsync(request)
