"""The procedural demo head: 52 ARKit keys, each moving its own region, mapped 52/52."""
import time

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from unitaf_blender.blender import demo_head as dh
from unitaf_blender.core.channels import ARKIT_52
from unitaf_blender.core.mapping import auto_map

SIDED = [n for n in ARKIT_52 if n.endswith("Left") and n not in ("jawLeft", "mouthLeft")]


@pytest.fixture(scope="module")
def geometry():
    t = time.perf_counter()
    geo = dh.build_geometry()
    print(f"demo head geometry + 52 keys: {1000 * (time.perf_counter() - t):.0f} ms")
    return geo


@pytest.fixture
def head(clean_scene):
    return dh.build_demo_head()


def _deltas(obj):
    kbs = obj.data.shape_keys.key_blocks
    n = len(obj.data.vertices)

    def co(kb):
        a = np.empty(n * 3, np.float32)
        kb.data.foreach_get("co", a)
        return a.reshape(n, 3)
    base = co(kbs["Basis"])
    return base, {kb.name: co(kb) - base for kb in kbs if kb.name != "Basis"}


def test_exactly_basis_and_the_52_arkit_keys_all_at_rest(head):
    kbs = head.data.shape_keys.key_blocks
    assert [kb.name for kb in kbs] == ["Basis", *ARKIT_52]
    assert all(kb.value == 0.0 for kb in kbs[1:])
    assert all(kb.relative_key.name == "Basis" for kb in kbs)
    assert 5000 <= len(head.data.vertices) <= 15000
    assert len(head.data.materials) == len(dh.MATERIALS)


def test_every_key_moves_something_and_nothing_is_broken(head):
    base, deltas = _deltas(head)
    assert np.isfinite(base).all()
    for name, d in deltas.items():
        assert np.isfinite(d).all(), name
        assert np.abs(d).max() > 5e-4, f"{name} has no visible displacement"
        assert np.abs(d).max() < 0.05, f"{name} moves vertices implausibly far"


def test_left_keys_move_the_left_side_and_right_keys_mirror_them(geometry):
    verts, _, _, _, keys, _ = geometry
    for left in SIDED:
        right = left[:-4] + "Right"
        dl, dr = keys[left], keys[right]
        ml = np.linalg.norm(dl, axis=1) > 1e-7
        mr = np.linalg.norm(dr, axis=1) > 1e-7
        # Weighted by how far they move, the moved vertices sit on the character's left (+X).
        wl = np.linalg.norm(dl, axis=1)
        assert (verts[:, 0] * wl).sum() / wl.sum() > 0.03 * dh.SCALE, left
        # The right key is the mirror image: same magnitudes, X flipped.
        assert ml.sum() == mr.sum(), left
        assert np.allclose(sorted(wl[ml]), sorted(np.linalg.norm(dr, axis=1)[mr]), atol=1e-6), left


def test_eye_blink_left_moves_only_the_left_upper_and_lower_lids(geometry):
    verts, _, _, parts, keys, _ = geometry
    moved = np.linalg.norm(keys["eyeBlinkLeft"], axis=1) > 1e-9
    assert moved.any()
    assert (verts[moved, 0] > 0).all()
    assert set(np.unique(parts[moved])) <= {dh.LID_UL, dh.LID_LL}
    # The upper lid margin goes down over the eye.
    upper = moved & (parts == dh.LID_UL)
    assert keys["eyeBlinkLeft"][upper, 2].min() < -0.01


def test_jaw_open_moves_the_chin_down_and_leaves_the_brow(geometry):
    verts, _, _, parts, keys, info = geometry
    d = keys["jawOpen"]
    skin = parts == dh.SKIN
    front = skin & (np.abs(verts[:, 0]) < 0.01) & (verts[:, 1] < 0)
    chin = front & (verts[:, 2] < (info["mouth_z"] - 0.2) * dh.SCALE) & (verts[:, 2] > -0.9 * dh.SCALE)
    assert chin.any() and (d[chin, 2] < -0.005).all()
    brow = skin & (verts[:, 2] > 0.2 * dh.SCALE)
    assert np.abs(d[brow]).max() == 0.0
    assert np.abs(d[parts == dh.TEETH_U]).max() == 0.0
    assert (d[parts == dh.TEETH_L, 2] < 0).all()
    # The upper lip stays, the lower lip drops: the mouth opens.
    up = info["mouth_z"] * dh.SCALE
    lip_u = front & (verts[:, 2] > up) & (verts[:, 2] < up + 0.02 * dh.SCALE)
    assert np.abs(d[lip_u]).max() < 2e-4


def test_mouth_smile_left_lifts_the_left_corner_only(geometry):
    verts, _, _, _, keys, info = geometry
    d = keys["mouthSmileLeft"]
    moved = np.linalg.norm(d, axis=1) > 1e-9
    assert (verts[moved, 0] > 0).all()
    corner_r, corner_l = sorted(info["mouth_corners"], key=lambda i: verts[i, 0])
    assert verts[corner_l, 0] > 0 > verts[corner_r, 0]
    assert d[corner_l, 2] > 0.004 and d[corner_l, 0] > 0
    assert not d[corner_r].any()


def test_eye_look_and_tongue_keys_stay_in_their_parts(geometry):
    _, _, _, parts, keys, _ = geometry
    for name, allowed in (("eyeLookInLeft", {dh.EYE_L}), ("eyeLookOutRight", {dh.EYE_R}),
                          ("eyeLookUpLeft", {dh.EYE_L, dh.LID_UL, dh.LID_LL}),
                          ("tongueOut", {dh.TONGUE}),
                          ("browInnerUp", {dh.SKIN, dh.BROW})):
        moved = np.linalg.norm(keys[name], axis=1) > 1e-9
        assert set(np.unique(parts[moved])) <= allowed, name
    # tongueOut pushes the tongue forward (-Y), out of the mouth.
    assert keys["tongueOut"][parts == dh.TONGUE, 1].min() < -0.01


def test_auto_mapping_maps_all_52(head):
    names = [kb.name for kb in head.data.shape_keys.key_blocks]
    mapping = auto_map(names, ARKIT_52)
    assert mapping.pairs == {n: n for n in ARKIT_52}
    assert not mapping.unmapped_channels and not mapping.unused_keys


def test_materials_are_assigned(head):
    idx = np.empty(len(head.data.polygons), np.int32)
    head.data.polygons.foreach_get("material_index", idx)
    used = set(idx.tolist())
    for m in (dh.M_SKIN, dh.M_LIPS, dh.M_IRIS, dh.M_PUPIL, dh.M_BROW, dh.M_HAIR, dh.M_TEETH):
        assert m in used
    assert all(m.diffuse_color[3] == 1.0 for m in head.data.materials)
