"""The engine-neutral upper face (core.upper_face): emotion expression, the voice's prosody on
the face (brows, squint, smile, head), blinks, gaze, head."""
import numpy as np
from helpers import emotion, neutral

from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS
from unitaf_blender.core.gaze_head import phrase_gestures
from unitaf_blender.core.performance import EMOTIONS
from unitaf_blender.core.upper_face import FACE_CHANNELS, FACE_INDEX, emotion_expression, merge_layers, upper_face
from unitaf_blender.core.voice_prosody import VoiceProsody

FPS = 30.0
RATE = 100.0          # frames a second of the synthetic voices' own F0/energy tracks


def speech(phrases, seconds=None, rate=RATE):
    """A voice's own F0/energy tracks: [(start s, end s, accent times (s), final rise)] with a
    gently falling pitch, a 40 % bump at each accent and a 50 % climb over a rising end."""
    seconds = seconds or phrases[-1][1] + 0.5
    t = np.arange(int(seconds * rate)) / rate
    f0, energy = np.zeros(len(t)), np.zeros(len(t))
    for start, end, accents, rise in phrases:
        inside = (t >= start) & (t < end)
        f0[inside] = 120 - 10 * (t[inside] - start)
        for a in accents:
            f0[inside] *= 1 + 0.4 * np.exp(-0.5 * ((t[inside] - a) / 0.06) ** 2)
        if rise:
            f0[inside] *= 1 + 0.5 * np.clip((t[inside] - (end - 0.4)) / 0.4, 0, 1)
        energy[inside] = 1.0
    return f0, energy, seconds


def prosody(phrases, seconds=None):
    f0, energy, seconds = speech(phrases, seconds)
    n = int(seconds * FPS) + 1
    return VoiceProsody.from_frames(f0, energy, RATE, n, FPS), n


def col(w, name):
    return w[:, FACE_INDEX[name]]


def test_expression_scales_with_intensity_and_follows_the_timeline():
    n = 120
    levels = [0.0, 0.3, 0.6, 0.9]
    smile = ARKIT_52.index("mouthSmileLeft")
    smiles = [emotion_expression(*emotion("happy", v), n, FPS, seed=1)[:, smile].mean() for v in levels]
    assert smiles[0] == 0.0 and np.all(np.diff(smiles) > 0.05)
    # a timeline going from angry to surprised: brows go from down to up
    times = np.array([0.0, 1.9, 2.1, 4.0])
    vec = np.zeros((4, 8))
    vec[:2, EMOTIONS.index("angry")] = 0.8
    vec[2:, EMOTIONS.index("surprised")] = 0.8
    w = emotion_expression(times, vec, n, FPS, seed=1)
    down, up = w[:, ARKIT_52.index("browDownLeft")], w[:, ARKIT_52.index("browOuterUpLeft")]
    assert down[:45].mean() > 0.4 and down[75:].mean() < 0.05
    assert up[75:].mean() > 0.4 and up[:45].mean() < 0.05
    assert np.all(np.abs(np.diff(down)) < 0.15)          # eased, not a pop
    # not frozen: a held emotion still varies slowly
    held = emotion_expression(*emotion("sad", 0.8), 300, FPS, seed=2)[:, ARKIT_52.index("browInnerUp")]
    assert held.std() > 0.01


def blink_starts(x, threshold=0.5):
    above = x > threshold
    return np.flatnonzero(above[1:] & ~above[:-1]) + 1


def test_blinks_are_natural_and_follow_emotion():
    n = int(120 * FPS)
    counts = {}
    for name in ("calm", "afraid"):
        w = upper_face(*emotion(name), n, FPS, seed=5)
        blink = w[:, ARKIT_52.index("eyeBlinkLeft")]
        counts[name] = len(blink_starts(blink))
        closed = []
        for s in blink_starts(blink):
            assert blink[s:s + 8].max() > 0.9                    # a full closure is keyed
            closed.append(int(np.argmax(blink[s:] <= 0.5)))      # frames closed past half
        # mostly short blinks (~100-250 ms), a few long ones (<= 0.67 s), no clockwork
        assert np.median(closed) <= 7 and max(closed) <= 20 and len(set(closed)) >= 3, closed
        np.testing.assert_allclose(blink, w[:, ARKIT_52.index("eyeBlinkRight")], atol=0.2)
    w = upper_face(*neutral(), n, FPS, seed=5)
    neutral_rate = len(blink_starts(w[:, ARKIT_52.index("eyeBlinkLeft")])) / 2.0   # per minute
    assert 8 <= neutral_rate <= 30, neutral_rate
    assert counts["afraid"] > 1.4 * counts["calm"], counts

    # asymmetric shape: closing is faster than opening (summed over all blinks)
    blink = w[:, ARKIT_52.index("eyeBlinkLeft")]
    peaks = [j for j in range(1, n - 1)
             if blink[j] > 0.9 and blink[j] >= blink[j - 1] and blink[j] >= blink[j + 1]]
    closing = sum(np.argmax(blink[p::-1] < 0.1) for p in peaks)
    opening = sum(np.argmax(blink[p:] < 0.1) for p in peaks)
    assert closing < opening


def test_gaze_and_head_move_a_little():
    w = upper_face(*neutral(), 600, FPS, seed=7)
    idx = (ARKIT_52 + HEAD_EYE_ROTATIONS).index
    yaw = w[:, idx("leftEyeYaw")]
    assert np.ptp(yaw) > 0.02 and np.abs(yaw).max() < 0.3
    assert np.ptp(w[:, idx("headYaw")]) > 0.01 and np.abs(w[:, idx("headPitch")]).max() < 0.2
    looks = w[:, [idx(n) for n in ARKIT_52 if n.startswith("eyeLook")]]
    assert looks.max() > 0.01 and looks.max() < 0.6


def test_brows_rise_on_pitch_accents_and_lower_in_anger():
    p, n = prosody([(0.5, 3.0, [1.5], False)])
    k = int(1.5 * FPS)
    quiet = upper_face(*neutral(), n, FPS, seed=3)
    lively = upper_face(*neutral(), n, FPS, seed=3, prosody=p)
    assert col(lively, "browInnerUp")[k] > col(quiet, "browInnerUp")[k] + 0.12
    assert col(lively, "browOuterUpLeft")[k] > col(lively, "browOuterUpLeft")[int(2.6 * FPS)] + 0.1
    angry = upper_face(*emotion("angry", 0.8), n, FPS, seed=3, prosody=p)
    calm_angry = upper_face(*emotion("angry", 0.8), n, FPS, seed=3)
    down, calm_down = col(angry, "browDownLeft"), col(calm_angry, "browDownLeft")
    assert down[k] > calm_down[k] + 0.1                     # the accent lowers angry brows...
    assert col(angry, "browInnerUp")[k] < 0.08               # ...rather than lifting them
    assert col(angry, "mouthFrownLeft")[k] > col(calm_angry, "mouthFrownLeft")[k] + 0.05


def test_a_final_rise_lifts_the_brows_to_the_end_of_the_phrase():
    p, n = prosody([(0.5, 2.5, [], True)], seconds=3.5)
    w = upper_face(*neutral(), n, FPS, seed=4, prosody=p)
    flat = upper_face(*neutral(), n, FPS, seed=4, prosody=prosody([(0.5, 2.5, [], False)], 3.5)[0])
    end = int(2.45 * FPS)
    assert col(w, "browOuterUpLeft")[end] > col(flat, "browOuterUpLeft")[end] + 0.15


def test_head_turns_at_phrase_starts_and_nods_as_statements_end():
    phrases = [(0.5, 2.0, [], False), (2.6, 4.0, [], False), (4.6, 6.0, [], False), (6.6, 8.0, [], True)]
    p, n = prosody(phrases, seconds=9.0)
    cues = p.cues()
    assert [ph.question > 0.5 for ph in cues.phrases] == [False, False, False, True]
    head = phrase_gestures(np.random.default_rng(0), n, FPS, cues)
    yaw, pitch, roll = head.T
    for _, end, _, rise in phrases:
        k, before = int(end * FPS), int((end - 0.6) * FPS)
        if rise:     # a question lifts the chin and tilts the head instead of nodding
            assert pitch[k] < pitch[before] - 0.02 and abs(roll[k]) > 0.015
        else:
            assert pitch[k] > pitch[before] + 0.015, end
    levels = [yaw[0]] + [yaw[int((start + 0.6) * FPS)] for start, *_ in phrases]
    assert levels[0] == 0.0 and all(abs(a - b) > 0.01 for a, b in zip(levels, levels[1:]))
    assert np.abs(head).max() < 0.1                          # small, as a listener sees them
    # upper_face lays them on the head
    with_voice = upper_face(*neutral(), n, FPS, seed=5, prosody=p)
    assert np.abs(col(with_voice, "headPitch")).max() < 0.2


def test_the_expression_breathes_with_the_phrases():
    p, n = prosody([(0.5, 2.0, [], False), (3.0, 4.5, [], False)], seconds=5.5)
    w = upper_face(*emotion("happy", 0.6), n, FPS, seed=6, prosody=p)
    smile = col(w, "mouthSmileLeft")
    in_phrase = smile[int(1.0 * FPS):int(1.8 * FPS)].mean()
    in_pause = smile[int(2.35 * FPS):int(2.7 * FPS)].mean()
    assert in_phrase > 1.2 * in_pause


def test_cheeks_and_lower_lids_rise_with_the_smile():
    n = 90
    smiling = np.zeros((n, len(FACE_CHANNELS)), np.float32)
    ramp = np.linspace(0.0, 0.8, n)
    for side in ("Left", "Right"):
        smiling[:, FACE_INDEX["mouthSmile" + side]] = ramp
    mouth = np.zeros_like(smiling)
    out = merge_layers(mouth, smiling)                       # an expression's smile
    cheek, squint = col(out, "cheekSquintLeft"), col(out, "eyeSquintLeft")
    assert np.corrcoef(cheek, ramp)[0, 1] > 0.99 and cheek[-1] > 0.4
    assert squint[-1] > 0.2 and squint[0] == 0
    # lips spread for a vowel (the mouth layer) raise the cheeks less than a smile does
    spread = col(merge_layers(smiling, np.zeros_like(smiling)), "cheekSquintLeft")
    assert 0.2 * cheek[-1] < spread[-1] < 0.7 * cheek[-1]
    # a pursed /u/ takes the smile and so the cheeks down with it
    mouth[:, FACE_INDEX["mouthPucker"]] = 0.8
    assert col(merge_layers(mouth, smiling), "cheekSquintLeft")[-1] < 0.6 * cheek[-1]


def test_the_lids_squint_on_stress_and_as_a_blink_closes_never_frozen():
    p, n = prosody([(0.5, 5.0, [1.2, 2.4, 3.6], False), (5.5, 9.5, [6.5, 8.0], False)], seconds=10.0)
    w = upper_face(*emotion("angry", 0.8), n, FPS, seed=8, prosody=p)
    squint, blink = col(w, "eyeSquintLeft"), col(w, "eyeBlinkLeft")
    speaking = slice(int(0.5 * FPS), int(9.5 * FPS))
    assert squint[speaking].std() > 0.03                      # an angry glare still moves
    edges = (blink > 0.3) & (blink < 0.7)
    assert edges.any() and squint[edges].mean() > np.median(squint[speaking]) + 0.03
    k = int(2.4 * FPS)
    assert squint[k] > squint[int(3.0 * FPS)] + 0.03            # stressed syllable


def many_phrases(seconds, rng):
    """Phrases of 1-3 s with 0.2-0.9 s pauses over `seconds`, one or two accents each."""
    out, t = [], 0.3
    while t < seconds - 1.5:
        end = min(t + rng.uniform(1.0, 3.0), seconds - 0.5)
        out.append((t, end, list(rng.uniform(t + 0.2, end - 0.2, rng.integers(1, 3))), False))
        t = end + rng.uniform(0.2, 0.9)
    return out


def fwhm_blinks(blink, fps):
    """(peak times s, full widths at half maximum in ms) of the blinks of a [T] track."""
    above = blink > 0.5
    starts = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    ends = np.flatnonzero(above[:-1] & ~above[1:]) + 1
    ends = ends[ends > starts[0]] if len(starts) else ends
    return [(s / fps, (e - s) / fps * 1000) for s, e in zip(starts, ends)]


def test_two_lines_with_one_seed_blink_at_different_times():
    rng = np.random.default_rng(1)
    a, n = prosody(many_phrases(8.0, rng), seconds=8.0)
    b, _ = prosody(many_phrases(8.0, rng), seconds=8.0)
    blinks = [fwhm_blinks(col(upper_face(*neutral(), n, FPS, seed=0, prosody=p), "eyeBlinkLeft"), FPS)
              for p in (a, b)]
    assert blinks[0] and blinks[1]
    assert [t for t, _ in blinks[0]] != [t for t, _ in blinks[1]]
    # the same line and seed: the same blinks (deterministic)
    again = fwhm_blinks(col(upper_face(*neutral(), n, FPS, seed=0, prosody=a), "eyeBlinkLeft"), FPS)
    assert again == blinks[0]


def test_blinks_vary_like_a_persons_and_come_with_phrase_starts_and_pauses():
    rng = np.random.default_rng(2)
    times, widths, near, total_s, rates = [], [], 0, 0.0, []
    for _ in range(12):
        phrases = many_phrases(20.0, rng)
        p, n = prosody(phrases, seconds=20.0)
        w = upper_face(*neutral(), n, FPS, seed=0, prosody=p)
        blink = col(w, "eyeBlinkLeft")
        assert blink[:int(0.2 * FPS)].max() < 0.05 and blink[-int(0.2 * FPS):].max() < 0.05   # take edges
        found = fwhm_blinks(blink, FPS)
        rates.append(len(found) / 20.0 * 60)
        widths += [d for _, d in found]
        starts = np.array([s for s, *_ in phrases])
        ends = np.array([e for _, e, *_ in phrases])
        for t, _ in found:
            at_start = np.any((t > starts - 0.35) & (t < starts + 0.15))
            in_pause = np.any((t > ends) & (t < np.append(starts[1:], np.inf)))
            near += bool(at_start or in_pause)
        times += [t for t, _ in found]
        total_s += 20.0
    # human duration spread (100-400 ms, a few long ones), not one clockwork length
    assert 100 <= np.median(widths) <= 400
    assert np.percentile(widths, 90) - np.percentile(widths, 10) >= 60
    assert 10 <= len(times) / total_s * 60 <= 35 and min(rates) >= 3
    # most blinks fall at phrase starts or in pauses (which cover well under half of the time)
    assert near / len(times) > 0.5, near / len(times)


def test_a_short_line_still_blinks_once_inside_the_take():
    p, n = prosody([(0.2, 2.6, [1.0], False)], seconds=3.0)
    for seed in range(10):
        blink = col(upper_face(*neutral(), n, FPS, seed=seed, prosody=p), "eyeBlinkLeft")
        assert blink.max() > 0.9, seed
        assert blink[0] == 0 and blink[-1] == 0
