"""Pose maps (core.pose_map): names to shapes, map files, and how much of each pose a take's
frames hold (the mouth chart solved like visemes, expressions from their channels)."""
import json

import numpy as np
import pytest

from unitaf_blender.core import pose_map as PM
from unitaf_blender.engines import GenerateRequest
from unitaf_blender.engines.embedded.engine import EmbeddedEngine


@pytest.mark.parametrize("name,shape", [
    ("MBP", "MBP"), ("Mouth_MBP", "MBP"), ("mouth.AI", "AI"), ("viseme_PP", "MBP"), ("viseme_aa", "AI"),
    ("L", "L"), ("mouth_L", "L"), ("mouth_etc", "etc"), ("WQ", "WQ"), ("O_pose", "O"), ("Rest", "rest"),
    ("blink", "blink"), ("blink.L", "blink_L"), ("Blink_R", "blink_R"), ("brows-up", "brows_up"),
    ("Eyes Closed", "blink"), ("smile", "smile"), ("Walk cycle", None), ("mouthLeft", None),
])
def test_names_to_shapes(name, shape):
    assert PM.shape_for_name(name) == shape


def test_auto_fill_first_candidate_wins():
    found = PM.auto_fill([("mouth_AI", None, "mouth_AI"), ("chart", 10.0, "AI"), ("chart", 20.0, "MBP"),
                          ("Walk", None, "Walk")])
    assert found == {"AI": PM.PoseRef("mouth_AI"), "MBP": PM.PoseRef("chart", 20.0)}


@pytest.mark.parametrize("data,message", [
    ([], "expected a JSON object"),
    ({}, "no poses"),
    ({"poses": {"Smirk": "a"}}, "unknown shape 'Smirk'"),
    ({"poses": {"MBP": ""}}, "must be an action name"),
    ({"poses": {"MBP": {"action": "a", "frame": "ten"}}}, "frame must be a number"),
    ({"poses": {"MBP": {"action": "a", "extra": 1}}}, "must be an action name"),
    ({"poses": {"rest": "a"}}, "a rest pose alone"),
    ({"poses": {"MBP": "a"}, "rig": "x"}, "unknown fields"),
    ({"armature": 3, "poses": {"MBP": "a"}}, "'armature' must be an object name"),
])
def test_bad_maps_are_refused(data, message):
    with pytest.raises(PM.PoseMapError, match=message):
        PM.parse_pose_map(data)


def test_map_file(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"armature": "Rig", "poses": {"MBP": "m", "AI": {"action": "chart", "frame": 3}}}))
    m = PM.load_pose_map(path)
    assert m.armature == "Rig" and m.poses == {"MBP": PM.PoseRef("m"), "AI": PM.PoseRef("chart", 3.0)}
    assert m.mouth_shapes() == ["MBP", "AI"] and m.expression_shapes() == []
    with pytest.raises(PM.PoseMapError, match="not found"):
        PM.load_pose_map(tmp_path / "missing.json")


@pytest.fixture(scope="module")
def take():
    return EmbeddedEngine().generate(GenerateRequest(text="Bob may paint a map of Paris.", emotion="calm:0.3"))


def test_mouth_chart_weights_close_on_bilabials(take):
    shapes = list(PM.MOUTH_SHAPES) + ["blink"]
    w = PM.pose_weights(shapes, take.channels, take.weights, take.fps)
    mouth = np.stack([w[s] for s in PM.MOUTH_SHAPES if s != "rest"], 1)
    assert (mouth.sum(1) <= 1.0 + 1e-5).all() and (w["rest"] + mouth.sum(1) == pytest.approx(1.0, abs=1e-5))
    bilabials = [p for p in take.phonemes if p.label.lstrip("'%,")[:1] in "pbm"]
    assert len(bilabials) == 7
    for ph in bilabials:
        c = int(round(0.5 * (ph.start + ph.end) * take.fps))
        assert w["MBP"][max(c - 2, 0):c + 3].max() >= 0.5, ph
    blink = 0.5 * (take.channel("eyeBlinkLeft") + take.channel("eyeBlinkRight"))
    assert w["blink"] == pytest.approx(blink, abs=1e-6)


def test_a_small_chart_fits_every_frame_with_what_it_has(take):
    w = PM.pose_weights(["rest", "MBP", "AI", "O"], take.channels, take.weights, take.fps)
    assert set(w) == {"rest", "MBP", "AI", "O"}
    assert (w["MBP"] + w["AI"] + w["O"] <= 1.0 + 1e-5).all()
    assert w["AI"].max() > 0.5


def test_one_sided_blinks_win_over_the_blink_pose():
    channels = ("eyeBlinkLeft", "eyeBlinkRight")
    weights = np.array([[1.0, 0.2]], np.float32)
    w = PM.pose_weights(["blink", "blink_L"], channels, weights)
    assert w["blink_L"] == pytest.approx([1.0]) and w["blink"] == pytest.approx([0.2])


def test_blend_poses():
    weights = {"AI": np.array([0.0, 0.5, 1.0]), "E": np.array([0.5, 0.0, 0.0])}
    poses = {"AI": {("p", 0): 1.0}, "E": {("p", 0): -1.0, ("q", 1): 2.0}}
    out = PM.blend_poses(weights, poses, {("p", 0): 0.2, ("q", 1): 0.0})
    assert out[("p", 0)] == pytest.approx([0.2 - 0.6, 0.2 + 0.4, 1.0])
    assert out[("q", 1)] == pytest.approx([1.0, 0.0, 0.0])
    assert set(PM.shape_channels(["MBP"])) >= {"mouthPressLeft", "mouthClose", "jawOpen"}
