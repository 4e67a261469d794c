"""The engine-neutral upper face (core.upper_face): emotion expression, blinks, gaze, head."""
import numpy as np
from helpers import emotion, neutral

from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS
from unitaf_blender.core.performance import EMOTIONS
from unitaf_blender.core.upper_face import expression_layer, upper_face

FPS = 30.0


def test_expression_scales_with_intensity_and_follows_the_timeline():
    n = 120
    levels = [0.0, 0.3, 0.6, 0.9]
    smile = ARKIT_52.index("mouthSmileLeft")
    smiles = [expression_layer(*emotion("happy", v), n, FPS, seed=1)[:, smile].mean() for v in levels]
    assert smiles[0] == 0.0 and np.all(np.diff(smiles) > 0.05)
    # a timeline going from angry to surprised: brows go from down to up
    times = np.array([0.0, 1.9, 2.1, 4.0])
    vec = np.zeros((4, 8))
    vec[:2, EMOTIONS.index("angry")] = 0.8
    vec[2:, EMOTIONS.index("surprised")] = 0.8
    w = expression_layer(times, vec, n, FPS, seed=1)
    down, up = w[:, ARKIT_52.index("browDownLeft")], w[:, ARKIT_52.index("browOuterUpLeft")]
    assert down[:45].mean() > 0.4 and down[75:].mean() < 0.05
    assert up[75:].mean() > 0.4 and up[:45].mean() < 0.05
    assert np.all(np.abs(np.diff(down)) < 0.15)          # eased, not a pop
    # not frozen: a held emotion still varies slowly
    held = expression_layer(*emotion("sad", 0.8), 300, FPS, seed=2)[:, ARKIT_52.index("browInnerUp")]
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
        for s in blink_starts(blink):
            seg = blink[s:s + 8]
            assert seg.max() > 0.9                               # a full closure is keyed
            assert (seg > 0.5).sum() <= 5                        # ~100-170 ms, not a wink-hold
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
