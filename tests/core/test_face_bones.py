"""The face-bone motion table (core.face_bones): every motion reads real channels, the two
sides mirror each other, the jaw carries the lip seal, and gaze rotations come from eyeLook*
weights when a source has no eye rotation."""
import numpy as np
import pytest

from unitaf_blender.core import face_bones as FB
from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS


def test_every_motion_reads_known_channels_and_units():
    known = set(ARKIT_52) | set(HEAD_EYE_ROTATIONS)
    for region, motions in FB.REGIONS.items():
        for m in motions:
            assert m.kind in ("turn", "move") and set(m.channels()) <= known, region
            assert m.kind == "turn" or m.unit in ("E", "G", "D"), region
            assert ("_move." in region) == (m.unit == "G"), region


@pytest.mark.parametrize("left", [r for r in FB.REGIONS if r.endswith(".L")])
def test_right_side_mirrors_the_left(left):
    right = left[:-2] + ".R"
    for a, b in zip(FB.REGIONS[left], FB.REGIONS[right]):
        assert {c.replace("Left", "Right") for c in a.channels() if c not in ("mouthLeft", "mouthRight")} == \
            {c for c in b.channels() if c not in ("mouthLeft", "mouthRight")}
        if a.kind == "move":
            assert b.vector == (-a.vector[0], a.vector[1], a.vector[2])
        else:   # a turn about the left-right axis keeps its sense on both sides
            assert b.vector == (a.vector[0], -a.vector[1], -a.vector[2])


def test_blink_closes_the_lids_and_a_smile_lifts_the_corners():
    upper = FB.REGIONS["lid_upper_move.L"][0]
    lower = FB.REGIONS["lid_lower_move.L"][0]
    assert lower.vector[2] * lower.amount - upper.vector[2] * upper.amount == pytest.approx(1.0)  # they meet
    smile = FB.REGIONS["corner.L"][0]
    assert smile.channels() == ("mouthSmileLeft",) and smile.vector[2] > 0 and smile.vector[0] > 0


def test_sealed_jaw_closes_on_mouth_close():
    channels = ("jawOpen", "mouthClose", "browInnerUp")
    w = np.array([[0.5, 0.0, 0.3], [0.08, 0.08, 0.3], [0.1, 0.3, 0.0]], np.float32)
    out = FB.sealed_jaw(channels, w)
    assert out[:, 0].tolist() == pytest.approx([0.5, 0.0, 0.0])
    assert np.array_equal(out[:, 1:], w[:, 1:]) and w[1, 0] == pytest.approx(0.08)   # input untouched


def test_gaze_rotations_from_eyelook_weights_only_when_none_move():
    channels = ARKIT_52
    w = np.zeros((2, len(channels)), np.float32)
    w[:, channels.index("eyeLookOutLeft")] = 0.4     # left eye looks out: to the character's left
    w[:, channels.index("eyeLookInRight")] = 0.4     # right eye looks in: also to its left
    w[:, channels.index("eyeLookDownLeft")] = 0.2
    names, values = FB.with_gaze_rotations(channels, w)
    col = {n: values[:, i] for i, n in enumerate(names)}
    assert col["leftEyeYaw"] == pytest.approx(0.4 * FB.EYE_LOOK_RADIANS)
    assert col["rightEyeYaw"] == pytest.approx(0.4 * FB.EYE_LOOK_RADIANS)
    assert col["leftEyePitch"] == pytest.approx(0.2 * FB.EYE_LOOK_RADIANS)   # looks down: pitch > 0
    # a source with moving eye rotations keeps its own
    channels2 = ARKIT_52 + HEAD_EYE_ROTATIONS
    w2 = np.zeros((2, len(channels2)), np.float32)
    w2[:, channels2.index("leftEyeYaw")] = -0.1
    names2, values2 = FB.with_gaze_rotations(channels2, w2)
    assert names2 == channels2 and np.array_equal(values2, w2)


def test_drive_values_read_only_present_channels():
    motion = FB.REGIONS["gaze_target"][0]
    assert FB.drive_values(motion, {"browInnerUp": np.ones(3)}) is None
    got = FB.drive_values(motion, {"leftEyeYaw": np.full(3, 0.2), "rightEyeYaw": np.full(3, 0.4)})
    assert got == pytest.approx(np.full(3, 0.3))
