"""Shape-key mapping: every head in ../shared/assets plus synthetic naming cases.

Expected keys per head come from that head's naming rule, written here independently of
the matcher (which scores candidates; these rules just spell names).
"""
import json
import pathlib
import random

import pytest

from shared_paths import ASSETS, need
from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS
from unitaf_blender.core.mapping import PRESETS, ShapeKeyMapping, apply_preset, auto_map, normalize_key_name

SHAPE_KEYS = ASSETS / "shape_keys.json"
DIRECTIONS = {"jawLeft", "jawRight", "mouthLeft", "mouthRight"}  # not left/right variants


def pascal(c):
    return c[0].upper() + c[1:]


def facecap_name(c):
    for side, s in (("Left", "L"), ("Right", "R")):
        if c.endswith(side) and c not in DIRECTIONS:
            return c[: -len(side)] + "_" + s
    return c


def rocketbox_name(c):
    order = sorted(pascal(x) for x in ARKIT_52)  # Rocketbox numbers AK_ keys alphabetically
    return "AK_%02d_%s" % (order.index(pascal(c)) + 1, pascal(c))


# file -> (rule spelling the expected key of each ARKit channel, expected number mapped)
RULES = {
    "facecap_meshopt-decoded.glb": (facecap_name, 52),
    "Rocketbox_Female_Adult_01_facial.fbx": (rocketbox_name, 52),
    "Live_Link_Face.blend": (pascal, 51),
    "GodotLiveLinkFace_duck.glb": (lambda c: c, 3),
    "brunette-t.glb": (lambda c: c, 52),
    "vroid_meshopt-decoded.glb": (lambda c: c, 52),
    "facecap.glb": (facecap_name, 52),  # importer fails in Blender <= 5.0: no meshes listed
}


def _mesh_params():
    if not SHAPE_KEYS.exists():
        return [pytest.param(None, None, id="shared-assets-absent")]
    data = json.loads(SHAPE_KEYS.read_text())
    params = []
    for path, info in data.items():
        for mesh in info["meshes"]:
            params.append(pytest.param(path, mesh, id=f"{pathlib.Path(path).name}:{mesh['object']}"))
    return params


@pytest.mark.parametrize("path,mesh", _mesh_params())
def test_every_shared_head_maps_exactly(path, mesh):
    if path is None:
        need(SHAPE_KEYS)
    rule, n_expected = RULES[pathlib.Path(path).name]
    keys = mesh["keys"]
    expected = {c: rule(c) for c in ARKIT_52 if rule(c) in keys}
    assert len(expected) == n_expected, "the naming rule itself no longer fits this head"

    m = auto_map(["Basis"] + keys, reference_key="Basis")
    assert m.pairs == expected
    assert m.unmapped_channels == [c for c in ARKIT_52 if c not in expected] + list(HEAD_EYE_ROTATIONS)
    assert set(m.unused_keys) == set(keys) - set(expected.values())
    assert "Basis" not in m.unused_keys
    for key in m.pairs.values():  # never a viseme, FACS, VRoid, HeadBox or SRanipal key
        assert not key.startswith(("viseme_", "AA_VI_", "AU_", "Fcl_", "HB_", "SR_"))
    assert m.report().splitlines()[0].startswith(f"{n_expected}/52 channels mapped")


def test_shared_heads_named_in_the_issue():
    data = json.loads(need(SHAPE_KEYS).read_text())
    rocketbox = data["models/Rocketbox_Female_Adult_01_facial.fbx"]["meshes"][0]["keys"]
    m = auto_map(rocketbox)
    assert m.pairs["jawOpen"] == "AK_25_JawOpen"
    assert m.pairs["tongueOut"] == "AK_52_TongueOut"
    llf = data["models/Live_Link_Face.blend"]["meshes"][0]["keys"]
    m = auto_map(llf)
    assert m.unmapped_channels[:1] == ["tongueOut"]
    assert m.report().splitlines()[0] == "51/52 channels mapped; missing: tongueOut"
    # every file in the manifest has a naming rule here
    assert {pathlib.Path(p).name for p in data} <= set(RULES)


@pytest.mark.parametrize("path,preset", [
    ("models/facecap_meshopt-decoded.glb", "facecap"),
    ("models/Rocketbox_Female_Adult_01_facial.fbx", "rocketbox_ak"),
    ("models/Live_Link_Face.blend", "livelink"),
    ("models/noncommercial/vroid_meshopt-decoded.glb", "arkit"),
])
def test_presets_agree_with_auto_on_their_heads(path, preset):
    data = json.loads(need(SHAPE_KEYS).read_text())
    keys = data[path]["meshes"][0]["keys"]
    rule, n_expected = RULES[pathlib.Path(path).name]
    m = apply_preset(preset, keys)
    assert m.pairs == {c: rule(c) for c in ARKIT_52 if rule(c) in keys}
    assert len(m.pairs) == n_expected
    assert apply_preset(preset, keys).pairs == auto_map(keys).pairs


def test_presets_only_spell_their_own_convention():
    facecap_keys = [facecap_name(c) for c in ARKIT_52]
    m = apply_preset("arkit", facecap_keys)
    assert set(m.pairs) == {c for c in ARKIT_52 if facecap_name(c) == c}
    assert len(m.pairs) == 16
    cc = ["Eye_Blink_L", "Mouth_Smile_R", "Jaw_Open", "Mouth_L", "Brow_Inner_Up", "eyeBlinkRight"]
    m = apply_preset("cc4", cc)
    assert m.pairs == {"eyeBlinkLeft": "Eye_Blink_L", "mouthSmileRight": "Mouth_Smile_R",
                       "jawOpen": "Jaw_Open", "mouthLeft": "Mouth_L", "browInnerUp": "Brow_Inner_Up"}
    assert m.unused_keys == ["eyeBlinkRight"]
    assert apply_preset("auto", cc).pairs == auto_map(cc).pairs
    rb = ["AK_25_JawOpen", "SR_21_Jaw_Open", "AK_99_EyeBlinkLeft", "HB_08_TongueOut"]
    assert apply_preset("rocketbox_ak", rb).pairs == {"eyeBlinkLeft": "AK_99_EyeBlinkLeft",
                                                      "jawOpen": "AK_25_JawOpen"}
    with pytest.raises(ValueError, match="unknown mapping preset 'vroid'.*auto"):
        apply_preset("vroid", cc)
    for pid, (label, desc) in PRESETS.items():
        assert label and desc
        apply_preset(pid, cc)


# --- synthetic names ---

SINGLE_KEY_CASES = {
    "jawOpen": "jawOpen", "JAWOPEN": "jawOpen", "JawOpen": "jawOpen",
    "jaw_open": "jawOpen", "Jaw-Open": "jawOpen", "jaw open": "jawOpen", "jaw.open": "jawOpen",
    "eyeBlink_L": "eyeBlinkLeft", "eyeBlink_R": "eyeBlinkRight", "L_eyeBlink": "eyeBlinkLeft",
    "eyeBlink.L": "eyeBlinkLeft", "eyeBlink.r": "eyeBlinkRight", "Left_EyeBlink": "eyeBlinkLeft",
    "eye_blink_left": "eyeBlinkLeft", "EyeBlinkL": "eyeBlinkLeft", "Eye_Blink_L": "eyeBlinkLeft",
    "Mouth_Smile_L": "mouthSmileLeft", "mouthSmile-R": "mouthSmileRight",
    "Face.jawOpen": "jawOpen", "head_mesh:jawOpen": "jawOpen", "blendShape1.jawOpen": "jawOpen",
    "AK_25_JawOpen": "jawOpen", "25_jawOpen": "jawOpen", "Mesh|jawOpen": "jawOpen",
    "ARKit_eyeBlink_L": "eyeBlinkLeft", "SR_21_Jaw_Open": "jawOpen",
    "jawOpen.001": "jawOpen", "Face.eyeBlink_L.002": "eyeBlinkLeft",
    "mouthLeft": "mouthLeft", "tongueOut": "tongueOut", "headYaw": "headYaw",
    "LeftEyeYaw": "leftEyeYaw", "right_eye_pitch": "rightEyePitch",
}

NEVER_MATCHED = [
    "viseme_aa", "viseme_O", "AA_VI_10_aa", "AU_26_JawDrop", "AU_45_Blink", "Fcl_MTH_A",
    "Fcl_EYE_Close_L", "Fcl_ALL_Joy", "viseme_jawOpen", "AU_25_jawOpen", "Fcl_jawOpen",
    "MouthJawOpen", "jawOpenWide", "jawOpen_extreme", "L_jawOpen", "Left.jawOpen", "eyeBlink",
    "eyeBlinkLeftRight", "Face.headYaw", "AK_01_HeadYaw", "headYaw.001", "_Neutral", "Basis", "",
    "あ", "SR_06_Eye_Left_Down",
]


@pytest.mark.parametrize("key,channel", sorted(SINGLE_KEY_CASES.items()))
def test_single_key_spellings(key, channel):
    m = auto_map(["Basis", key])
    assert m.pairs == {channel: key}
    assert m.unused_keys == []


@pytest.mark.parametrize("key", NEVER_MATCHED)
def test_keys_that_must_not_match(key):
    m = auto_map([key], reference_key=None)
    assert m.pairs == {}
    assert m.unused_keys == [key]


@pytest.mark.parametrize("keys,winner", [
    (["Face.jawOpen", "JawOpen", "jawOpen", "jaw_open"], "jawOpen"),          # exact first
    (["Face.jawOpen", "jaw_open", "JawOpen"], "JawOpen"),                     # then case
    (["AK_25_JawOpen", "Jaw_Open"], "Jaw_Open"),                              # then separators
    (["SR_21_Jaw_Open", "AK_25_JawOpen", "HB_jawOpen"], "HB_jawOpen"),        # remainder exact
    (["SR_21_Jaw_Open", "AK_25_JawOpen"], "AK_25_JawOpen"),                   # no extra words
    (["HB_08_TongueOut", "AK_52_TongueOut", "ZZ_TongueOut"], "AK_52_TongueOut"),  # ARKit family
    (["ZZ_TongueOut", "XX_TongueOut", "YY_TongueOut"], "XX_TongueOut"),       # alphabetical
    (["a_b_c_jawOpen", "x_jawOpen"], "x_jawOpen"),                            # fewer prefix words
    (["jawOpen.001", "Face.jawOpen"], "Face.jawOpen"),                        # suffix last
    (["jawOpen.002", "jawOpen.001"], "jawOpen.001"),
])
def test_tie_breaking(keys, winner):
    channel = "tongueOut" if "Tongue" in winner else "jawOpen"
    for seed in range(6):
        shuffled = list(keys)
        random.Random(seed).shuffle(shuffled)
        m = auto_map(shuffled, channels=[channel])
        assert m.pairs == {channel: winner}
        assert sorted(m.unused_keys) == sorted(k for k in keys if k != winner)


def test_one_key_per_channel_and_channel_per_key():
    keys = ["jawOpen", "JawOpen", "eyeBlink_L", "EyeBlinkLeft", "L_eyeBlink"]
    m = auto_map(keys)
    assert m.pairs == {"eyeBlinkLeft": "EyeBlinkLeft", "jawOpen": "jawOpen"}
    assert m.unused_keys == ["JawOpen", "eyeBlink_L", "L_eyeBlink"]
    assert len(set(m.pairs.values())) == len(m.pairs)


def test_deterministic_under_shuffled_input():
    keys = ([rocketbox_name(c) for c in ARKIT_52] + [facecap_name(c) for c in ARKIT_52]
            + [f"SR_{i}_{c}" for i, c in enumerate(ARKIT_52)] + ["viseme_aa", "Basis"])
    first = auto_map(keys).pairs
    assert first == {c: (c if facecap_name(c) == c else facecap_name(c)) for c in ARKIT_52}
    for seed in range(10):
        shuffled = list(keys)
        random.Random(seed).shuffle(shuffled)
        m = auto_map(shuffled)
        assert m.pairs == first
        assert list(m.pairs) == [c for c in ARKIT_52 if c in m.pairs]  # channel order kept


def test_rotations_only_by_name():
    m = auto_map(["headYaw", "HeadPitch", "head_roll", "Face.leftEyeYaw", "AK_60_RightEyeRoll"])
    assert m.pairs == {"headYaw": "headYaw", "headPitch": "HeadPitch", "headRoll": "head_roll"}
    assert "leftEyeYaw" in m.unmapped_channels


def test_reference_key_and_custom_channels():
    assert auto_map(["Basis", "jawOpen"]).unused_keys == []
    m = auto_map(["Basis", "jawOpen"], reference_key="Key 0")
    assert m.unused_keys == ["Basis"]
    m = auto_map(["jawOpen", "jawOpen", "eyeBlink_L"], channels=["jawOpen", "cheekPuff"])
    assert m.pairs == {"jawOpen": "jawOpen"}
    assert m.unmapped_channels == ["cheekPuff"]
    assert m.unused_keys == ["eyeBlink_L"]
    m = auto_map(["viseme_aa", "AA_VI_10_aa"], channels=["viseme_aa"])  # exact names still work
    assert m.pairs == {"viseme_aa": "viseme_aa"}


def test_normalize_key_name():
    for name in ("eyeBlink_L", "Eye_Blink_L", "L_eyeBlink", "eyeBlink.L", "EyeBlinkLeft",
                 "eye-blink left", "LEFT_EYE_BLINK"):
        assert normalize_key_name(name) == "eyeblinkleft", name
    assert normalize_key_name("jawOpen") == normalize_key_name("JAW_OPEN") == "jawopen"
    assert normalize_key_name("mouthLeft") == "mouthleft"
    assert normalize_key_name("eyeBlink_R") != normalize_key_name("eyeBlink_L")


def test_report_and_round_trip():
    m = auto_map([pascal(c) for c in ARKIT_52 if c != "tongueOut"] + ["extra"])
    text = m.report()
    assert text.splitlines()[0] == "51/52 channels mapped; missing: tongueOut"
    assert "0/9" in text and "1 shape keys unused: extra" in text
    restored = ShapeKeyMapping.from_dict(json.loads(json.dumps(m.to_dict())))
    assert restored == m
    full = auto_map(list(ARKIT_52))
    assert full.report().splitlines()[0] == "52/52 channels mapped; none missing"
    with pytest.raises(ValueError, match="pairs"):
        ShapeKeyMapping.from_dict({"nope": 1})
    with pytest.raises(ValueError, match="two channels"):
        ShapeKeyMapping.from_dict({"pairs": {"jawOpen": "k", "cheekPuff": "k"}})


def test_assign_keeps_one_to_one():
    m = auto_map(["jawOpen", "mouthClose", "spare"])
    m.assign("jawOpen", "mouthClose")   # steal mouthClose's key
    assert m.pairs["jawOpen"] == "mouthClose"
    assert "mouthClose" not in m.pairs and "mouthClose" in m.unmapped_channels
    assert "jawOpen" in m.unused_keys   # the old key is free again
    m.assign("jawOpen", None)
    assert "jawOpen" not in m.pairs and "jawOpen" in m.unmapped_channels
    assert "mouthClose" in m.unused_keys
    m.assign("cheekPuff", "spare")
    assert m.pairs["cheekPuff"] == "spare" and "spare" not in m.unused_keys
    assert len(set(m.pairs.values())) == len(m.pairs)
