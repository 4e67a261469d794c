"""Head and eyes on bones: the performance's head yaw/pitch/roll and eye rotations as pose-bone
rotations of the armature that deforms the face.

Bones are found by name (case-insensitive), first match wins; a name is also tried without a
namespace (`mixamorig:Head`, `mixamorig5:Head` -> `Head`) and without a 3ds Max Biped prefix
(`Bip01 Head` -> `Head`, `Bip01 LEye` -> `LEye`):

| role      | names                                                                               |
|-----------|-------------------------------------------------------------------------------------|
| head      | Head, CC_Base_Head, J_Bip_C_Head, head (Rigify, UE), DEF-spine.006                  |
| neck      | Neck, neck_01 (UE), CC_Base_NeckTwist01, J_Bip_C_Neck, neck (Rigify), DEF-spine.004  |
| left eye  | LeftEye, LEye (Biped), CC_Base_L_Eye, J_Adj_L_FaceEye, FACIAL_L_Eye, eye.L, DEF-eye.L |
| right eye | RightEye, REye (Biped), CC_Base_R_Eye, J_Adj_R_FaceEye, FACIAL_R_Eye, eye.R, DEF-eye.R |
| jaw       | jaw, lowerJaw, jaw_lower, CC_Base_JawRoot, FACIAL_C_Jaw, DEF-jaw                     |

Angles follow Live Link Face (core.upper_face): radians; yaw > 0 turns toward the subject's
left, pitch > 0 looks down; roll > 0 tilts the top of the head toward the subject's right
(this sign is our convention, not verified against a recording). They are turned into a
rotation in world space for a character facing -Y with +Z up (Blender's front view; glTF
and FBX imports of Ready Player Me, VRoid and Rocketbox face -Y), then into each bone's own
rest frame (through the armature object's rotation: an FBX armature is often turned), and
composed with the bone's current pose rotation. With a neck bone the head turn is shared:
40 % neck, 60 % head. Eye rotations are relative to the head, as Live Link records them, and
go to the eye bones only when no eyeLook* shape key moves the eyes.
"""
import math
import re

import numpy as np

HEAD_TURN = ("headYaw", "headPitch", "headRoll")
EYE_TURN = {"eye_l": ("leftEyeYaw", "leftEyePitch", "leftEyeRoll"),
            "eye_r": ("rightEyeYaw", "rightEyePitch", "rightEyeRoll")}
NECK_SHARE = 0.4

BONE_NAMES = {
    "head": ("head", "cc_base_head", "j_bip_c_head", "def-spine.006"),
    "neck": ("neck", "neck_01", "cc_base_necktwist01", "j_bip_c_neck", "def-spine.004"),
    "eye_l": ("lefteye", "leye", "cc_base_l_eye", "j_adj_l_faceeye", "facial_l_eye", "eye.l", "def-eye.l"),
    "eye_r": ("righteye", "reye", "cc_base_r_eye", "j_adj_r_faceeye", "facial_r_eye", "eye.r", "def-eye.r"),
    "jaw": ("jaw", "lowerjaw", "jaw_lower", "cc_base_jawroot", "facial_c_jaw", "def-jaw"),
}
_BIPED_PREFIX = re.compile(r"^bip\d+ ")


def _stems(name):
    """The lower-case forms a bone name is matched by: itself, without a namespace, without a
    Biped prefix."""
    low = name.lower()
    stem = low.rsplit(":", 1)[-1]
    return dict.fromkeys((low, stem, _BIPED_PREFIX.sub("", stem)))


def find_bones(armature) -> dict:
    """{role: bone name} for the roles whose bone the armature has: the bone chosen in the
    mapping panel (the armature's `unitaf_<role>_bone`), else the first name that matches
    (an exact name before a namespaced or Biped-prefixed one)."""
    by_form = {}
    for rank in (0, 1):
        for bone in armature.data.bones:
            forms = list(_stems(bone.name))
            for form in (forms[:1] if rank == 0 else forms[1:]):
                by_form.setdefault(form, bone.name)
    found = {}
    for role, names in BONE_NAMES.items():
        chosen = getattr(armature, f"unitaf_{role}_bone", "")
        if chosen and chosen in armature.data.bones:
            found[role] = chosen
            continue
        for name in names:
            if name in by_form:
                found[role] = by_form[name]
                break
    return found


def turn_matrices(yaw, pitch, roll) -> np.ndarray:
    """[T, 3, 3] armature-space rotations: yaw about +Z, pitch about +X, roll about -Y."""
    yaw, pitch, roll = (np.asarray(a, np.float64) for a in (yaw, pitch, roll))
    cz, sz, cx, sx = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(-roll), np.sin(-roll)
    zeros, ones = np.zeros_like(yaw), np.ones_like(yaw)
    rz = np.stack([np.stack([cz, -sz, zeros], -1), np.stack([sz, cz, zeros], -1),
                   np.stack([zeros, zeros, ones], -1)], -2)
    rx = np.stack([np.stack([ones, zeros, zeros], -1), np.stack([zeros, cx, -sx], -1),
                   np.stack([zeros, sx, cx], -1)], -2)
    ry = np.stack([np.stack([cy, zeros, sy], -1), np.stack([zeros, ones, zeros], -1),
                   np.stack([-sy, zeros, cy], -1)], -2)
    return rz @ rx @ ry


def matrices_to_quaternions(m) -> np.ndarray:
    """[T, 3, 3] rotation matrices -> [T, 4] quaternions (w, x, y, z), sign-continuous so that
    interpolating between neighbouring keys never takes the long way round."""
    m = np.asarray(m, np.float64)
    w = np.sqrt(np.maximum(0.0, 1.0 + m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2])) / 2
    x = np.sqrt(np.maximum(0.0, 1.0 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2])) / 2
    y = np.sqrt(np.maximum(0.0, 1.0 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2])) / 2
    z = np.sqrt(np.maximum(0.0, 1.0 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2])) / 2
    x = np.copysign(x, m[:, 2, 1] - m[:, 1, 2])
    y = np.copysign(y, m[:, 0, 2] - m[:, 2, 0])
    z = np.copysign(z, m[:, 1, 0] - m[:, 0, 1])
    q = np.stack([w, x, y, z], axis=1)
    for k in range(1, len(q)):
        if np.dot(q[k], q[k - 1]) < 0:
            q[k] = -q[k]
    return q


def local_rotations(rest_3x3, turns) -> np.ndarray:
    """World-space turns [T, 3, 3] expressed in a bone's rest frame (rest_3x3: the bone's
    orthonormal rest orientation in world space, the armature's rotation included): B^T R B."""
    rest = np.asarray(rest_3x3, np.float64)
    return rest.T[None] @ turns @ rest[None]


def angles_for(role, columns, has_neck):
    """The (yaw, pitch, roll) arrays a role turns by, from {channel: values}: the head turn is
    shared with the neck when there is one; eyes use their own channels."""
    if role in EYE_TURN:
        return [columns[name] for name in EYE_TURN[role]]
    share = 1.0 if not has_neck else (NECK_SHARE if role == "neck" else 1.0 - NECK_SHARE)
    return [columns[name] * share for name in HEAD_TURN]


def degrees(radians) -> float:
    return math.degrees(float(radians))
