"""A take never breaks the scene: rest pose outside takes, re-generation replaces, linked data is
refused, success only when Blender really plays the take, checks change nothing (issue 10)."""
import os

import pytest
from helpers import make_perf

from shared_paths import ASSETS, need

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import compat, keying, mapping_store, rest_pose, takes
from unitaf_blender.blender.takes import TakeError, TakeOptions, apply_take

LLF_BLEND = ASSETS / "models" / "Live_Link_Face.blend"


def _two_heads():
    """AdaHead and BobHead: two copies of the Live Link Face head (real rest values, e.g.
    JawOpen 0.089), as a user's two-character shot."""
    bpy.ops.wm.open_mainfile(filepath=str(need(LLF_BLEND)), load_ui=False)
    src = bpy.data.objects["FBHead"]
    scene = bpy.context.scene
    heads = []
    for name, dx in (("AdaHead", -0.3), ("BobHead", 0.3)):
        obj = src.copy()
        obj.data = src.data.copy()
        obj.name = name
        obj.location.x += dx
        scene.collection.objects.link(obj)
        heads.append(obj)
    bpy.data.objects.remove(src)
    scene.frame_current = 1
    return heads


def _values(obj):
    return {kb.name: kb.value for kb in obj.data.shape_keys.key_blocks[1:]}


def _worst(obj, rest, frame):
    bpy.context.scene.frame_set(frame)
    got = _values(obj)
    return max(abs(got[k] - rest[k]) for k in rest)


def _perf(seconds, seed):
    return make_perf(seconds=seconds, fps=30.0, seed=seed)


@pytest.mark.parametrize("push_to_nla", [True, False])
def test_rest_pose_holds_outside_every_take_and_survives_save(clean_scene, tmp_path, push_to_nla):
    ada, bob = _two_heads()
    rest = {o.name: _values(o) for o in (ada, bob)}
    assert rest["AdaHead"]["JawOpen"] == pytest.approx(0.089, abs=1e-3)   # a real, non-zero rest value
    scene = bpy.context.scene
    scene.render.fps = 30
    lines = [(ada, 20, 0), (bob, 90, 1), (ada, 160, 2)] if push_to_nla else [(ada, 40, 0), (bob, 90, 1)]
    spans = []   # (object name, first frame, last frame), with the frames it eases in and out over
    for obj, frame, seed in lines:
        r = apply_take(scene, obj, _perf(1.0, seed),
                       TakeOptions(start_frame=frame, push_to_nla=push_to_nla, add_sound=False))
        spans.append((obj.name, r.frame_start - r.ease_frames, r.frame_end + r.ease_frames))
    out = tmp_path / "dialogue.blend"
    takes.save_blend(str(out))
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    ada, bob = bpy.data.objects["AdaHead"], bpy.data.objects["BobHead"]
    for obj in (ada, bob):
        mine = [(a, b) for name, a, b in spans if name == obj.name]
        outside = [mine[0][0] - 5, mine[-1][1] + 10]
        outside += [(a[1] + b[0]) // 2 for a, b in zip(mine, mine[1:])]
        for frame in outside:
            assert _worst(obj, rest[obj.name], frame) < 1e-6, (obj.name, frame)
        # ...and inside its own takes it really speaks
        bpy.context.scene.frame_set(mine[0][0] + 10)
        assert max(abs(v - rest[obj.name][k]) for k, v in _values(obj).items()) > 0.05


def test_rest_values_are_captured_once(face):
    """A later take must not take the animated value of an earlier take as the rest value."""
    key = face.data.shape_keys
    key.key_blocks["jawOpen"].value = 0.2
    scene = bpy.context.scene
    apply_take(scene, face, make_perf(seed=1), TakeOptions(start_frame=1, push_to_nla=True, add_sound=False))
    scene.frame_set(10)   # the static value now holds the take's frame-10 value
    assert key.key_blocks["jawOpen"].value != pytest.approx(0.2)
    apply_take(scene, face, make_perf(seed=2), TakeOptions(start_frame=200, push_to_nla=True, add_sound=False))
    assert rest_pose.rest_values(key)[(keying.data_path("jawOpen"), 0)] == pytest.approx(0.2)
    scene.frame_set(150)
    assert key.key_blocks["jawOpen"].value == pytest.approx(0.2)


def test_regenerating_a_named_take_replaces_it(face, tmp_path, needs_audio):
    scene = bpy.context.scene
    audio = tmp_path / "shot_audio"
    first = apply_take(scene, face, make_perf(seed=1), TakeOptions(start_frame=10, push_to_nla=True,
                                                                   take_name="line001", audio_dir=str(audio)))
    assert first.take_name == "line001"
    again = apply_take(scene, face, make_perf(seconds=3.0, seed=2),
                       TakeOptions(start_frame=10, push_to_nla=True, take_name="line001", audio_dir=str(audio)))
    assert again.take_name == "line001" and again.action.name == "UniTAF_Face_line001"
    ad = face.data.shape_keys.animation_data
    takes_playing = [s for t in ad.nla_tracks for s in t.strips if s.action and s.action.get("unitaf_take")]
    assert [s.action for s in takes_playing] == [again.action]
    assert [a.name for a in bpy.data.actions if a.get("unitaf_take")] == ["UniTAF_Face_line001"]
    sounds = [s for s in compat.all_strips(scene.sequence_editor)]
    assert [s.name for s in sounds] == ["line001"] and len(bpy.data.sounds) == 1
    assert sorted(os.listdir(audio)) == ["line001.wav"]
    # the new take plays, past the old one's end too
    fc = compat.find_fcurve(again.action, keying.data_path("jawOpen"))
    for frame in (12, first.frame_end + 5):
        scene.frame_set(frame)
        assert face.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(fc.evaluate(frame), abs=1e-5)


def test_regenerated_take_that_fails_keeps_the_old_one(face, tmp_path, monkeypatch):
    scene = bpy.context.scene
    old = apply_take(scene, face, make_perf(seed=1), TakeOptions(start_frame=10, push_to_nla=True,
                                                                 take_name="line001", add_sound=False))
    monkeypatch.setattr(takes, "_verify", lambda *args: (_ for _ in ()).throw(TakeError("forced")))
    with pytest.raises(TakeError, match="forced"):
        apply_take(scene, face, make_perf(seed=2), TakeOptions(start_frame=10, push_to_nla=True,
                                                               take_name="line001", add_sound=False))
    ad = face.data.shape_keys.animation_data
    strips = [s for t in ad.nla_tracks for s in t.strips if s.action == old.action]
    assert len(strips) == 1 and not strips[0].mute
    assert [a.name for a in bpy.data.actions if a.get("unitaf_take")] == ["UniTAF_Face_line001"]


def test_a_driven_shape_key_is_reported_not_claimed(face):
    """A driver overrides the keyed values: the take must not report success."""
    key = face.data.shape_keys
    fc = key.key_blocks["jawOpen"].driver_add("value")
    fc.driver.expression = "0.0"
    scene = bpy.context.scene
    actions = sorted(a.name for a in bpy.data.actions)
    perf = make_perf(channels=("jawOpen",), fn=lambda t, i: 0.2 + 0.6 * (t > 0.5))
    with pytest.raises(TakeError, match="does not play"):
        apply_take(scene, face, perf, TakeOptions(start_frame=1, add_sound=False))
    assert sorted(a.name for a in bpy.data.actions) == actions
    ad = key.animation_data
    assert ad.action is None and len(ad.nla_tracks) == 0


def _linked_head(tmp_path, name):
    """The Live Link head, named `name`, saved as tmp_path/lib/lib.blend and linked from there
    into an empty scene."""
    bpy.ops.wm.open_mainfile(filepath=str(need(LLF_BLEND)), load_ui=False)
    bpy.data.objects["FBHead"].name = name
    lib = tmp_path / "lib" / "lib.blend"
    lib.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(lib))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    with bpy.data.libraries.load(str(lib), link=True) as (src, dst):
        dst.objects = [name]
    bpy.context.scene.collection.objects.link(dst.objects[0])
    return dst.objects[0]


def test_linked_mesh_is_refused_with_the_library_named(clean_scene, tmp_path):
    obj = _linked_head(tmp_path, "LibHead")
    with pytest.raises(TakeError, match=r"linked from lib\.blend.*library override"):
        takes.validate_target(obj)
    with pytest.raises(TakeError, match="linked from"):
        apply_take(bpy.context.scene, obj, make_perf(), TakeOptions(add_sound=False))
    assert not [a for a in bpy.data.actions if a.library is None]


def test_override_of_the_object_alone_asks_for_an_editable_mesh(clean_scene, tmp_path):
    """A library override of the object whose mesh and shape keys are still linked: the
    message says the mesh must be made editable, and the way it gives works."""
    head = _linked_head(tmp_path, "FBHead")
    scene = bpy.context.scene
    obj = head.override_hierarchy_create(scene, bpy.context.view_layer, do_fully_editable=True)
    assert obj.library is None and obj.override_library is not None and obj.data.library is not None
    with pytest.raises(TakeError, match=r"library override, but its mesh 'FBHead_mesh' and its shape keys "
                                        r"are still linked from lib\.blend.*Make the mesh editable") as error:
        apply_take(scene, obj, make_perf(), TakeOptions(add_sound=False))
    assert "Make a library override first" not in str(error.value)
    assert not [a for a in bpy.data.actions if a.library is None]
    # the remedy it names
    fix = str(error.value).rsplit("console: ", 1)[1]
    assert fix == "bpy.data.objects['FBHead'].data.override_create(remap_local_usages=True)"
    eval(fix, {"bpy": bpy})
    name = apply_take(scene, obj, make_perf(), TakeOptions(start_frame=1, add_sound=False)).action.name
    out = tmp_path / "shot.blend"
    takes.save_blend(str(out))
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    key = bpy.data.objects["FBHead"].data.shape_keys
    assert key.animation_data.action.name == name == "UniTAF_FBHead_take1"   # kept in the saved file


def test_checking_a_target_adds_nothing_to_it(face):
    assert not face.is_property_set("unitaf_mapping")
    takes.validate_target(face)
    mapping_store.object_mapping(face)
    assert not face.is_property_set("unitaf_mapping")


def test_take_longer_than_blenders_frame_range_is_refused_before_resampling(face, monkeypatch):
    """The size is bounded from the header (frames x fps) before anything is allocated."""
    perf = make_perf(seconds=1.0, fps=25.0)
    perf.fps = 1e-5            # 25 frames over ~28 days: 2.4e8 frames at 24 fps
    called = []
    monkeypatch.setattr(keying, "prepare_tracks", lambda *a, **k: called.append(a))
    with pytest.raises(TakeError, match="outside Blender's frame range"):
        apply_take(bpy.context.scene, face, perf, TakeOptions(start_frame=1, add_sound=False))
    assert not called
