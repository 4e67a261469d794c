"""The voice's prosody for the face (core.pitch, core.voice_prosody): F0, phrases, accents,
final rises, and the interface a voice with its own F0/energy predictions uses."""
import numpy as np
import pytest

from unitaf_blender.core.pitch import f0_track
from unitaf_blender.core.signal import n_frames_for, true_runs
from unitaf_blender.core.voice_prosody import VoiceProsody

SR = 16000
FPS = 30.0


def voice(f0_hz, sr=SR, amp=0.3):
    """A buzz with a few harmonics following the F0 contour f0_hz [N samples] (0 = silence)."""
    f0 = np.asarray(f0_hz, np.float64)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    buzz = sum(np.sin(h * phase) / h for h in (1, 2, 3, 4))
    return (amp * buzz * (f0 > 0)).astype(np.float32)


def contour(spec, sr=SR):
    """[(seconds, f0 start, f0 end)] -> a piecewise-linear F0 contour (0 = pause)."""
    return np.concatenate([np.linspace(a, b, int(round(d * sr)), endpoint=False) for d, a, b in spec])


def test_f0_follows_a_glide_and_silence_is_unvoiced():
    f0 = contour([(0.3, 0, 0), (1.0, 110, 220), (0.3, 0, 0)])
    est, t = f0_track(voice(f0), SR)
    truth = np.interp(t, np.arange(len(f0)) / SR, f0)
    inside = (t > 0.35) & (t < 1.25)
    assert np.all(np.abs(est[inside] / truth[inside] - 1) < 0.02), est[inside]
    assert np.all(est[(t < 0.25) | (t > 1.35)] == 0)
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    assert (f0_track(noise, SR)[0] > 0).mean() < 0.1          # noise is not a voice


def test_f0_of_the_same_voice_at_other_sample_rates():
    for sr in (8000, 22050, 48000):
        est, t = f0_track(voice(contour([(0.6, 150, 150)], sr), sr), sr)
        assert np.median(est[(t > 0.1) & (t < 0.5)]) == pytest.approx(150, rel=0.01), sr


def prosody_of(f0):
    audio = voice(f0)
    return VoiceProsody.from_audio(audio, SR, n_frames_for(len(audio), SR, FPS), FPS)


def test_true_runs_are_end_exclusive_and_reach_both_edges():
    assert true_runs(np.array([1, 1, 0, 0, 1, 0, 1, 1, 1], bool)) == [(0, 2), (4, 5), (6, 9)]
    assert true_runs(np.zeros(4, bool)) == [] and true_runs(np.ones(3, bool)) == [(0, 3)]
    assert true_runs(np.zeros(0, bool)) == []


def test_phrases_are_speech_between_pauses():
    f0 = contour([(0.2, 0, 0), (0.8, 120, 110), (0.25, 0, 0), (0.6, 120, 100), (0.06, 0, 0),
                  (0.5, 110, 100), (0.3, 0, 0)])
    cues = prosody_of(f0).cues()
    spans = [(ph.start / FPS, ph.end / FPS) for ph in cues.phrases]
    # the 0.25 s pause splits, the 60 ms stop-like gap does not
    assert len(spans) == 2, spans
    assert spans[0][0] == pytest.approx(0.2, abs=0.05) and spans[0][1] == pytest.approx(1.0, abs=0.05)
    assert spans[1][0] == pytest.approx(1.25, abs=0.05) and spans[1][1] == pytest.approx(2.41, abs=0.05)
    assert cues.activity[int(1.1 * FPS)] < 0.5 < cues.activity[int(0.6 * FPS)]


def test_a_pitch_peak_is_an_accent_and_a_flat_phrase_has_none():
    flat = prosody_of(contour([(0.2, 0, 0), (1.6, 120, 110), (0.3, 0, 0)])).cues()
    assert flat.accent_frames == () and flat.accents.max() == 0
    peak = contour([(0.2, 0, 0), (0.6, 115, 112), (0.15, 112, 150), (0.15, 150, 112), (0.7, 112, 105),
                    (0.3, 0, 0)])
    cues = prosody_of(peak).cues()
    assert len(cues.accent_frames) == 1
    assert cues.accent_frames[0] / FPS == pytest.approx(0.95, abs=0.07)
    k = cues.accent_frames[0]
    # the gesture leads the peak a little and fades after it
    assert cues.accents[k] > 0.9 and cues.accents[k - 3] > 0.2 and cues.accents[k + int(0.6 * FPS)] == 0


def test_a_final_rise_marks_a_question_and_a_fall_does_not():
    rise = prosody_of(contour([(0.2, 0, 0), (1.0, 120, 110), (0.4, 110, 165), (0.4, 0, 0)])).cues()
    fall = prosody_of(contour([(0.2, 0, 0), (1.0, 120, 110), (0.4, 110, 85), (0.4, 0, 0)])).cues()
    assert rise.phrases[0].question > 0.5 and fall.phrases[0].question == 0
    end = rise.phrases[0].end
    assert rise.questions[end] > 0.9 and rise.questions[:int(0.9 * FPS)].max() == 0
    assert fall.questions.max() == 0


def test_a_voice_can_pass_its_own_f0_and_energy():
    f0 = contour([(0.2, 0, 0), (0.6, 115, 112), (0.15, 112, 150), (0.15, 150, 112), (0.7, 112, 105),
                  (0.3, 0, 0)])
    measured = prosody_of(f0)
    # a TTS model's own per-frame predictions at 80 frames a second
    t = np.arange(int(len(f0) / SR * 80)) / 80
    predicted_f0 = np.interp(t, np.arange(len(f0)) / SR, f0)
    energy = (predicted_f0 > 0) * 3.0 + 0.001          # any positive scale
    given = VoiceProsody.from_frames(predicted_f0, energy, 80.0, measured.n_frames, FPS)
    assert given.n_frames == measured.n_frames
    assert given.cues().accent_frames == pytest.approx(measured.cues().accent_frames, abs=2)
    assert [b for p in given.cues().phrases for b in (p.start, p.end)] == pytest.approx(
        [b for p in measured.cues().phrases for b in (p.start, p.end)], abs=2)
    with pytest.raises(ValueError, match="frames"):
        VoiceProsody.from_frames(predicted_f0, energy[:-1], 80.0, 10, FPS)
    with pytest.raises(ValueError, match="NaN or inf"):
        VoiceProsody(np.array([np.inf]), np.zeros(1), FPS)


def test_fingerprint_tells_lines_apart_and_is_stable():
    a = prosody_of(contour([(0.2, 0, 0), (1.0, 120, 110), (0.3, 0, 0)]))
    b = prosody_of(contour([(0.2, 0, 0), (1.0, 130, 100), (0.3, 0, 0)]))
    again = prosody_of(contour([(0.2, 0, 0), (1.0, 120, 110), (0.3, 0, 0)]))
    assert a.fingerprint() == again.fingerprint() != b.fingerprint()


def test_f0_times_stay_on_the_audio_clock_over_minutes():
    # 3 minutes at 22.05 kHz (the analysis hop is a whole number of decimated samples, not
    # exactly 20 ms: the times must come from it, or a long script's brows drift off its voice)
    sr = 22050
    f0 = np.full(180 * sr, 110.0)
    f0[int(170.0 * sr):] = 180.0
    est, t = f0_track(voice(f0, sr), sr)
    jump = t[np.argmax(est > 145)]
    assert jump == pytest.approx(170.0, abs=0.03)
