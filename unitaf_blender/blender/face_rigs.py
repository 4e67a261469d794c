"""Face rigs made of bones, recognised on an armature: which bone is which face region
(core.face_bones says how each region moves).

Rigify face (the Human meta-rig's `faces.super_face`, and the modular face its "Upgrade Face
Rig" makes), recognised by `jaw_master`, `lip.T`, `lip.B` and lip corners: jaw `jaw_master`
(turns; jawForward moves it); lips `lip.T`, `lip.B`, corners `lips.L/R` (modular:
`lip_end.L/R.001`); lids `lid.T/B.L/R.002` (moves, in lid gaps); brows `brow.T.L/R.001`
(outer), `.002`, `.003` (inner); cheeks `cheek.B.L/R.001`; nostrils `nose.L/R.001`; nose tip
`nose.002`; `chin`; `tongue_master` (modular: `tongue`); gaze through the `eyes` target
(modular: `eye_common`).

3ds Max Biped face (Rocketbox), recognised by `Bip01 MJaw`, `Bip01 MUpperLip`,
`Bip01 MBottomLip` (any `BipNN ` prefix): jaw `MJaw`; lips `MUpperLip`, `MBottomLip`,
`L/RUpperlip`, `L/RMouthBottom`, corners `L/RMouthCorner`; lids `L/REyeBlinkTop/Bottom`
(turns); brows `L/RInnerEyebrow`, `L/ROuterEyebrow`, `MMiddleEyebrow`; `L/RCheek`; `MNose`;
`MTongue`; the eyes are the `L/REye` bones, turned like other eye bones (rig.py).

A jaw bone alone: the bone chosen as Jaw in the mapping panel, else one named `jaw`,
`lowerJaw`, `mixamorig:Jaw`, `CC_Base_JawRoot`, `FACIAL_C_Jaw`, `DEF-jaw` (rig.py).

A jaw chosen in the panel replaces the rig's own jaw. Units (core.face_bones): E is the
distance between the eye bones (Rigify `master_eye.L/R` or `eye_master.L/R`, Biped `L/REye`),
G the gap between a side's lid controls, D the distance from the eyes to the gaze target.
"""
import re
from dataclasses import dataclass, field

import numpy as np

from . import rig

# region -> the bone of the Human meta-rig's face (`faces.super_face`), or of the modular face
# Rigify's "Upgrade Face Rig" makes (`face.skin_jaw` ...), first present wins
RIGIFY_FACE = {
    "jaw": ("jaw_master",), "jaw_forward": ("jaw_master",),
    "lip_upper": ("lip.T",), "lip_lower": ("lip.B",),
    "corner.L": ("lips.L", "lip_end.L.001"), "corner.R": ("lips.R", "lip_end.R.001"),
    "lid_upper_move.L": ("lid.T.L.002",), "lid_lower_move.L": ("lid.B.L.002",),
    "lid_upper_move.R": ("lid.T.R.002",), "lid_lower_move.R": ("lid.B.R.002",),
    "brow_outer.L": ("brow.T.L.001",), "brow_mid.L": ("brow.T.L.002",), "brow_inner.L": ("brow.T.L.003",),
    "brow_outer.R": ("brow.T.R.001",), "brow_mid.R": ("brow.T.R.002",), "brow_inner.R": ("brow.T.R.003",),
    "cheek.L": ("cheek.B.L.001",), "cheek.R": ("cheek.B.R.001",),
    "nose.L": ("nose.L.001",), "nose.R": ("nose.R.001",), "nose": ("nose.002",), "chin": ("chin",),
    "tongue": ("tongue_master", "tongue"), "gaze_target": ("eyes", "eye_common"),
}
_RIGIFY_REQUIRED = ("jaw_master", "lip.T", "lip.B")
_RIGIFY_EYES = (("master_eye.L", "master_eye.R"), ("eye_master.L", "eye_master.R"))

BIPED_FACE = {
    "jaw": "MJaw", "jaw_forward": "MJaw",
    "lip_upper": "MUpperLip", "lip_lower": "MBottomLip",
    "lip_upper.L": "LUpperlip", "lip_upper.R": "RUpperlip",
    "lip_lower.L": "LMouthBottom", "lip_lower.R": "RMouthBottom",
    "corner.L": "LMouthCorner", "corner.R": "RMouthCorner",
    "lid_upper_turn.L": "LEyeBlinkTop", "lid_lower_turn.L": "LEyeBlinkBottom",
    "lid_upper_turn.R": "REyeBlinkTop", "lid_lower_turn.R": "REyeBlinkBottom",
    "brow_inner.L": "LInnerEyebrow", "brow_outer.L": "LOuterEyebrow",
    "brow_inner.R": "RInnerEyebrow", "brow_outer.R": "ROuterEyebrow", "brow_centre": "MMiddleEyebrow",
    "cheek.L": "LCheek", "cheek.R": "RCheek", "nose": "MNose", "tongue": "MTongue",
}
_BIPED_REQUIRED = ("MJaw", "MUpperLip", "MBottomLip")
_BIPED_PREFIX = re.compile(r"^bip\d+ ", re.IGNORECASE)


@dataclass
class FaceRig:
    """The face regions an armature moves with bones."""
    label: str
    regions: dict                        # region -> bone name
    units: dict = field(default_factory=dict)   # "E", "D", "G.L", "G.R" -> armature-space length
    gaze_on_target: bool = False         # the eyes look through a target control, not eye bones

    def unit(self, motion_unit, region):
        """The length a motion's unit stands for in `region` (G is per side)."""
        if motion_unit == "G":
            return self.units.get("G." + region[-1])
        return self.units.get(motion_unit)


def _head(armature, name):
    return np.array(armature.data.bones[name].head_local, np.float64)


def _distance(armature, a, b):
    bones = armature.data.bones
    if a in bones and b in bones:
        return float(np.linalg.norm(_head(armature, a) - _head(armature, b)))
    return None


def _first(bones, names):
    return next((n for n in names if n in bones), None)


def _rigify(armature):
    bones = armature.data.bones
    if not all(n in bones for n in _RIGIFY_REQUIRED) or _first(bones, RIGIFY_FACE["corner.L"]) is None:
        return None
    regions = {r: _first(bones, names) for r, names in RIGIFY_FACE.items()}
    regions = {r: n for r, n in regions.items() if n is not None}
    units = {}
    eyes = next((pair for pair in _RIGIFY_EYES if all(n in bones for n in pair)), None)
    if eyes is not None:
        units["E"] = _distance(armature, *eyes)
        if "gaze_target" in regions:
            mid = 0.5 * (_head(armature, eyes[0]) + _head(armature, eyes[1]))
            units["D"] = float(np.linalg.norm(_head(armature, regions["gaze_target"]) - mid))
    for side in "LR":
        units[f"G.{side}"] = _distance(armature, f"lid.T.{side}.002", f"lid.B.{side}.002")
    label = "Rigify face" if "lips.L" in bones else "Rigify face (modular)"
    return FaceRig(label, regions, {k: v for k, v in units.items() if v},
                   gaze_on_target="gaze_target" in regions and "D" in units)


def _biped(armature):
    by_stem = {}
    for bone in armature.data.bones:
        m = _BIPED_PREFIX.match(bone.name)
        if m:
            by_stem.setdefault(bone.name[m.end():].lower(), bone.name)
    if not all(n.lower() in by_stem for n in _BIPED_REQUIRED):
        return None
    regions = {r: by_stem[n.lower()] for r, n in BIPED_FACE.items() if n.lower() in by_stem}
    units = {}
    if "leye" in by_stem and "reye" in by_stem:
        units["E"] = _distance(armature, by_stem["leye"], by_stem["reye"])
    return FaceRig("3ds Max Biped face", regions, {k: v for k, v in units.items() if v})


def find_face_rig(armature, bones=None):
    """The FaceRig of `armature`: Rigify's face, a Biped face, or a lone jaw bone (the bone
    chosen as Jaw in the mapping panel wins over the rig's own jaw); None when it has none.
    `bones`: rig.find_bones(armature) where the caller has it (else looked up only when no
    Rigify or Biped face is found)."""
    face = _rigify(armature) or _biped(armature)
    if face is not None:
        chosen = getattr(armature, "unitaf_jaw_bone", "")
        if chosen and chosen in armature.data.bones:
            face.regions["jaw"] = chosen
        return face
    jaw = (rig.find_bones(armature) if bones is None else bones).get("jaw")
    if jaw is None:
        return None
    return FaceRig("jaw bone", {"jaw": jaw})


def face_rig_summary(face) -> str:
    """One line for reports: the rig and its bones by region."""
    if face is None:
        return "no face bones"
    groups = {}
    for region, bone in face.regions.items():
        groups.setdefault(region.split(".")[0].replace("_move", "").replace("_turn", ""), []).append(bone)
    parts = [f"{g} {'/'.join(dict.fromkeys(b))}" for g, b in groups.items()]
    return f"{face.label}: " + ", ".join(parts)
