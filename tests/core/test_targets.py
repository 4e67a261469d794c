"""core.targets: plan_targets on the real key lists of shared/assets/shape_keys.json, the
FACS name parser, the claim rules, and TargetPlan.evaluate on an embedded-engine take."""
import json

import numpy as np
import pytest

from shared_paths import ASSETS, need
from unitaf_blender.core.channels import ARKIT_52
from unitaf_blender.core.mapping import auto_map
from unitaf_blender.core.targets import _parse_facs, plan_targets
from unitaf_blender.engines import GenerateRequest
from unitaf_blender.engines.embedded.engine import EmbeddedEngine

VROID = ("models/noncommercial/vroid_meshopt-decoded.glb", "Face")
RPM = ("models/noncommercial/brunette-t.glb", "Wolf3D_Head")
ROCKETBOX = ("models/Rocketbox_Female_Adult_01_facial.fbx", "f001_hipoly_81_bones_opacity")


def _mesh(asset, obj):
    data = json.loads(need(ASSETS / "shape_keys.json").read_text(encoding="utf-8"))
    return next(m for m in data[asset]["meshes"] if m["object"] == obj)


def _plan(which, keep=None):
    mesh = _mesh(*which)
    keys = [k for k in mesh["keys"] if keep is None or keep(k)]
    return plan_targets(keys, mesh["reference"], ignore_keys=mesh["zero_delta_keys"]), keys


def test_vroid_fcl_only():
    plan, keys = _plan(VROID, lambda k: k.startswith("Fcl_"))
    assert {plan.visemes[k] for k in ("Fcl_MTH_A", "Fcl_MTH_I", "Fcl_MTH_U", "Fcl_MTH_E", "Fcl_MTH_O",
                                      "Fcl_MTH_Close")} == {"vowels5:A", "vowels5:I", "vowels5:U", "vowels5:E",
                                                            "vowels5:O", "vowels5:Close"}
    assert plan.derived["Fcl_EYE_Close_L"] == {"eyeBlinkLeft": 1.0}
    assert plan.derived["Fcl_EYE_Close_R"] == {"eyeBlinkRight": 1.0}
    assert "Fcl_EYE_Close" not in plan.derived           # the sided pair already blinks
    driven = set(plan.keys())
    never = [k for k in keys if k.startswith(("Fcl_HA_", "Fcl_ALL_"))
             or k in ("Fcl_EYE_Iris_Hide", "Fcl_EYE_Highlight_Hide", "Fcl_EYE_Natural")]
    assert len(never) == 22 and not driven & set(never)
    assert not plan.direct
    assert "VRoid / VRM" in plan.report().splitlines()[1]


def test_vroid_joint_blink_when_no_sided_keys():
    plan = plan_targets(["Basis", "Fcl_EYE_Close", "Fcl_MTH_A"])
    assert plan.derived == {"Fcl_EYE_Close": {"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5}}
    assert plan.visemes == {"Fcl_MTH_A": "vowels5:A"}


def test_vroid_full_face_arkit_eyes_win_and_zero_jaw_hands_the_mouth_to_visemes():
    plan, keys = _plan(VROID)
    assert plan.direct["eyeBlinkLeft"] == "eyeBlinkLeft"
    assert not {"Fcl_EYE_Close", "Fcl_EYE_Close_L", "Fcl_EYE_Close_R", "Fcl_BRW_Angry"} & set(plan.keys())
    # jawOpen has no geometry here, so the mouth is solved onto one viseme family only
    assert "jawOpen" not in plan.direct and not any(c.startswith("mouth") for c in plan.direct)
    families = {t.split(":")[0] for t in plan.visemes.values()}
    assert families == {"oculus"}


def test_rpm_visemes_and_eyes():
    plan, _ = _plan(RPM, lambda k: k.startswith(("viseme_", "eye")))
    assert plan.visemes["viseme_PP"] == "oculus:PP" and plan.visemes["viseme_O"] == "oculus:oh"
    assert "viseme_sil" not in plan.visemes                  # no geometry: ignored
    assert plan.direct["eyeBlinkLeft"] == "eyeBlinkLeft"
    assert plan.direct["eyeLookUpRight"] == "eyeLookUpRight"
    assert plan.report().startswith("32/52 channels mapped")


def test_rpm_full_head_is_arkit_and_leaves_visemes_alone():
    plan, keys = _plan(RPM)
    assert not plan.visemes and not plan.derived
    assert plan.direct["jawOpen"] == "jawOpen" and len(plan.direct) == 51
    assert all(k in plan.unused_keys for k in keys if k.startswith("viseme_"))


def test_rocketbox_facs_only():
    plan, _ = _plan(ROCKETBOX, lambda k: k.startswith("AU_"))
    assert plan.derived["AU_26_JawDrop"] == {"jawOpen": 1.0}
    assert "AU_27_MouthStretch" not in plan.derived and "AU_25_LipsPart" not in plan.derived
    assert plan.derived["AU_12_L_LipCornerPuller"] == {"mouthSmileLeft": 1.0}
    assert plan.derived["AU_12_R_LipCornerPuller"] == {"mouthSmileRight": 1.0}
    assert plan.derived["AU_43_L_EyeClosed"] == {"eyeBlinkLeft": 1.0}
    assert "AU_45_Blink" not in plan.derived and "AU_12_LipCornerPuller" not in plan.derived
    assert plan.derived["AU_61_EyesTurnLeft"] == {"eyeLookOutLeft": 0.5, "eyeLookInRight": 0.5}
    # the joint key drives when it is the only one
    joint = plan_targets(["AU_45_Blink", "AU_27_MouthStretch", "AU_12_LipCornerPuller"])
    assert joint.derived == {"AU_45_Blink": {"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5},
                             "AU_27_MouthStretch": {"jawOpen": 1.0},
                             "AU_12_LipCornerPuller": {"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5}}


def test_rocketbox_full_is_ak_direct():
    plan, keys = _plan(ROCKETBOX)
    assert len(plan.direct) == 52 and all(k.startswith("AK_") for k in plan.direct.values())
    assert not plan.derived and not plan.visemes
    assert not [k for k in plan.keys() if k.startswith(("AU_", "AA_VI_"))]
    assert plan.report().splitlines()[1].startswith("conventions: ARKit (AK_ prefix): 52 keys")
    assert plan.direct == auto_map([k for k in keys if k not in ("AA_VI_00_Sil", "_Neutral")]).pairs


@pytest.mark.parametrize("key,expected", [
    ("AU_26_JawDrop", (26, None)), ("AU26", (26, None)), ("au_26", (26, None)), ("jawDrop", (26, None)),
    ("AU_02_L_OuterBrowRaiser", (2, "L")), ("AU_12_R_LipCornerPuller", (12, "R")),
    ("LipCornerPuller_Left", (12, "L")), ("AU_61_EyesTurnLeft", (61, None)), ("AU45", (45, None)),
    ("MouthStretch", None), ("AU_99_Nothing", None), ("SR_05_Eye_Left_Blink", None), ("jawOpen", None),
])
def test_facs_names(key, expected):
    assert _parse_facs(key) == expected


def test_stored_table_is_kept_and_ignore_wins():
    keys = ["Basis", "JawOpen", "MyBlink", "viseme_aa", "viseme_PP", "Fcl_EYE_Close"]
    plan = plan_targets(keys, stored_pairs={"jawOpen": "JawOpen", "eyeBlinkLeft": "MyBlink",
                                            "eyeBlinkRight": "Gone"})
    assert plan.direct == {"jawOpen": "JawOpen", "eyeBlinkLeft": "MyBlink"}
    assert not plan.visemes                                   # the table drives the mouth
    assert "Fcl_EYE_Close" not in plan.derived                # eyeBlinkLeft is taken
    plan = plan_targets(keys, stored_pairs={"jawOpen": "JawOpen"}, ignore_keys=["JawOpen"])
    assert plan.direct == {} and set(plan.visemes) == {"viseme_aa", "viseme_PP"}


def test_mmd_blink_and_vowels():
    plan = plan_targets(["あ", "い", "う", "え", "お", "まばたき", "ウィンク", "ウィンク右", "笑い"])
    assert plan.visemes == {"あ": "vowels5:A", "い": "vowels5:I", "う": "vowels5:U", "え": "vowels5:E",
                            "お": "vowels5:O"}
    assert plan.derived == {"まばたき": {"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5}}
    assert plan.unused_keys == ["ウィンク", "ウィンク右", "笑い"]
    winks = plan_targets(["ウィンク", "ウィンク右"])
    assert winks.derived == {"ウィンク": {"eyeBlinkLeft": 1.0}, "ウィンク右": {"eyeBlinkRight": 1.0}}


def test_cc_visemes_tongue_and_upper_face():
    keys = ["V_Open", "V_Explosive", "V_Dental_Lip", "V_Tight_O", "V_Tight", "V_Wide", "V_Affricate",
            "V_Lip_Open", "V_Tongue_up", "V_Tongue_Raise", "V_Tongue_Out", "V_Tongue_Narrow",
            "V_Tongue_Lower", "V_Tongue_Curl_U", "V_Tongue_Curl_D", "Eye_Blink_L", "Eye_Blink_R",
            "Brow_Raise_Inner_L", "Brow_Raise_Inner_R", "Brow_Drop_L", "Brow_Drop_R"]
    plan = plan_targets(keys)
    assert plan.direct == {"eyeBlinkLeft": "Eye_Blink_L", "eyeBlinkRight": "Eye_Blink_R"}  # auto_map's
    assert plan.visemes["V_Explosive"] == "cc_lips:V_Explosive"
    assert plan.visemes["V_Tongue_Out"] == "cc_tongue:V_Tongue_Out"
    assert "V_Tongue_Curl_D" in plan.unused_keys
    assert plan.derived["Brow_Raise_Inner_L"] == {"browInnerUp": 1.0}
    assert plan.derived["Brow_Raise_Inner_R"] == {"browInnerUp": 1.0}
    assert plan.derived["Brow_Drop_R"] == {"browDownRight": 1.0}


def test_evaluate_on_a_take():
    perf = EmbeddedEngine().generate(GenerateRequest(text="Bob may paint a map of Paris.", emotion="angry:0.6"))
    keys = ["Fcl_MTH_A", "Fcl_MTH_O", "Fcl_MTH_Close", "Fcl_EYE_Close_L", "Fcl_BRW_Angry", "Fcl_BRW_Sorrow",
            "eyeLookUpLeft", "headYaw"]
    plan = plan_targets(keys)
    values = plan.evaluate(perf.channels, perf.weights, perf.fps)
    assert set(values) == set(plan.keys()) == set(keys)
    idx = {c: i for i, c in enumerate(perf.channels)}
    w = perf.weights
    assert all(v.shape == (perf.n_frames,) and v.dtype == np.float32 for v in values.values())
    np.testing.assert_array_equal(values["headYaw"], w[:, idx["headYaw"]])
    np.testing.assert_array_equal(values["Fcl_EYE_Close_L"], w[:, idx["eyeBlinkLeft"]])
    np.testing.assert_allclose(values["Fcl_BRW_Angry"],
                               0.5 * (w[:, idx["browDownLeft"]] + w[:, idx["browDownRight"]]), atol=1e-6)
    sorrow = w[:, idx["browInnerUp"]] - 0.5 * (w[:, idx["browOuterUpLeft"]] + w[:, idx["browOuterUpRight"]])
    np.testing.assert_allclose(values["Fcl_BRW_Sorrow"], np.clip(sorrow, 0, 1), atol=1e-6)
    assert values["Fcl_BRW_Angry"].max() > 0.2                    # an angry take lowers the brows
    mouth = values["Fcl_MTH_A"] + values["Fcl_MTH_O"] + values["Fcl_MTH_Close"]
    assert mouth.max() <= 1.0 + 1e-6 and values["Fcl_MTH_A"].max() > 0.6
    # a take without the channel leaves the key alone rather than zeroing it
    few = [c for c in perf.channels if c != "eyeLookUpLeft"]
    partial = plan.evaluate(few, w[:, [idx[c] for c in few]], perf.fps)
    assert "eyeLookUpLeft" not in partial
    with pytest.raises(ValueError, match="weights must be"):
        plan.evaluate(ARKIT_52, w)
