"""apply_take: the artist's action is kept, NLA placement, bad input, atomic rollback."""
import os

import numpy as np
import pytest
from helpers import make_face, make_perf

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import compat, keying, rest_pose, sound, takes
from unitaf_blender.blender.takes import TakeError, TakeOptions, apply_take


def _artist_action(obj):
    key = obj.data.shape_keys
    action, slot = compat.new_action("ArtistBlink", key)
    fc = compat.FCurveWriter(action, slot, "Artist").new(keying.data_path("eyeBlinkLeft"))
    fc.keyframe_points.insert(1, 0.0)
    fc.keyframe_points.insert(5, 1.0)
    compat.assign_action(key, action, slot)
    return action, slot


def _snapshot(scene):
    """What a failed take must leave exactly as it was."""
    ad = [(o.name, o.data.shape_keys.animation_data) for o in bpy.data.objects
          if o.type == 'MESH' and o.data.shape_keys]
    return {
        "actions": sorted(a.name for a in bpy.data.actions),
        "fake": sorted((a.name, a.use_fake_user) for a in bpy.data.actions),
        "sounds": sorted(s.name for s in bpy.data.sounds),
        "strips": [] if scene.sequence_editor is None else sorted(s.name for s in compat.all_strips(scene.sequence_editor)),
        "editor": scene.sequence_editor is not None,
        "anim": [(n, None if a is None else (a.action.name if a.action else None,
                                             [(t.name, [s.name for s in t.strips]) for t in a.nla_tracks]))
                 for n, a in ad],
        "frame_end": scene.frame_end,
    }


def test_artist_action_pushed_down_and_take_becomes_active(face):
    artist, slot = _artist_action(face)
    result = apply_take(bpy.context.scene, face, make_perf(), TakeOptions(start_frame=1, add_sound=False))
    key = face.data.shape_keys
    assert key.animation_data.action == result.action
    assert result.action.name == "UniTAF_Face_take1" and result.take_name == "take1"
    # the artist's action keeps playing, from the NLA (Push Down)
    assert [s.action for t in key.animation_data.nla_tracks for s in t.strips if not s.mute][-1] == artist
    assert any("ArtistBlink" in w and "pushed down" in w for w in result.warnings)
    # a second take gets the next name; the first one is kept aside
    second = apply_take(bpy.context.scene, face, make_perf(seed=1), TakeOptions(start_frame=1, add_sound=False))
    assert second.action.name == "UniTAF_Face_take2"
    assert bpy.data.actions["UniTAF_Face_take1"].use_fake_user


def test_push_to_nla_keeps_artist_action_playing_and_never_overlaps(face):
    artist, _ = _artist_action(face)
    scene = bpy.context.scene
    scene.render.fps = 25
    opts = dict(add_sound=False, push_to_nla=True)
    r1 = apply_take(scene, face, make_perf(seconds=2.0), TakeOptions(start_frame=10, **opts))
    ad = face.data.shape_keys.animation_data
    assert ad.action is None
    tracks = list(ad.nla_tracks)
    assert [t.name for t in tracks] == [rest_pose.REST_TRACK, "ArtistBlink", takes.TAKE_TRACK]
    assert tracks[1].strips[0].action == artist
    assert r1.nla_strip.action == r1.action and r1.nla_strip.frame_start == 10 - r1.ease_frames
    # overlapping take -> another track on top; a later, separate take reuses the first one
    r2 = apply_take(scene, face, make_perf(seconds=2.0, seed=1), TakeOptions(start_frame=30, **opts))
    r3 = apply_take(scene, face, make_perf(seconds=1.0, seed=2), TakeOptions(start_frame=200, **opts))
    tracks = list(ad.nla_tracks)
    assert len(tracks) == 4
    assert r2.nla_strip in list(tracks[3].strips)
    assert r3.nla_strip in list(tracks[2].strips)
    for t in tracks:
        spans = sorted((s.frame_start, s.frame_end) for s in t.strips)
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))
    # the NLA plays the take: jawOpen at frame 10 + k equals the performance's value
    perf = make_perf(seconds=1.0, seed=2)
    scene.frame_set(200 + 10)
    assert face.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(perf.channel("jawOpen")[10], abs=1e-6)


def test_keys_resting_at_their_maximum_are_named(face):
    """The take adds to resting values: a key left at 1.0 (bpy 5.x starts new keys there)
    cannot move, and the report says so."""
    face.data.shape_keys.key_blocks["jawOpen"].value = 1.0
    r = apply_take(bpy.context.scene, face, make_perf(), TakeOptions(start_frame=1, add_sound=False))
    assert any("rest at their maximum (jawOpen 1.00)" in w for w in r.warnings), r.warnings
    fc = compat.find_fcurve(r.action, keying.data_path("jawOpen"))
    assert {round(k.co[1], 6) for k in fc.keyframe_points} == {1.0}


def test_take_extends_scene_end(face):
    scene = bpy.context.scene
    scene.frame_end = 20
    r = apply_take(scene, face, make_perf(seconds=3.0), TakeOptions(start_frame=5, add_sound=False))
    assert scene.frame_end == r.frame_end + r.ease_frames > 20   # the take eases out before the end


def test_start_frame_defaults_to_current_frame(face):
    bpy.context.scene.frame_current = 42
    r = apply_take(bpy.context.scene, face, make_perf(), TakeOptions(add_sound=False))
    assert r.frame_start == 42


def _bad_targets():
    def none(bpy):
        return None

    def camera(bpy):
        obj = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
        bpy.context.scene.collection.objects.link(obj)
        return obj

    def no_keys(bpy):
        return make_face(bpy, name="Bare", keys=())

    def only_basis(bpy):
        obj = make_face(bpy, name="Basis only", keys=())
        obj.shape_key_add(name="Basis")
        return obj

    def foreign_keys(bpy):
        return make_face(bpy, name="Cartoon", keys=("Smile big", "Frown", "Wink"))
    return [("none", none, "No target"), ("camera", camera, "not a mesh"),
            ("no keys", no_keys, "no shape keys"), ("basis only", only_basis, "no shape keys"),
            ("foreign", foreign_keys, "match an ARKit")]


@pytest.mark.parametrize("label,make,message", _bad_targets(), ids=[b[0] for b in _bad_targets()])
def test_bad_targets_raise_and_change_nothing(clean_scene, tmp_path, label, make, message):
    obj = make(bpy)
    scene = bpy.context.scene
    before = _snapshot(scene)
    with pytest.raises(TakeError, match=message):
        takes.validate_target(obj)
    with pytest.raises(TakeError, match=message):
        apply_take(scene, obj, make_perf(), TakeOptions(audio_dir=str(tmp_path / "audio")))
    assert _snapshot(scene) == before
    assert not (tmp_path / "audio").exists()


@pytest.mark.parametrize("opts,message", [
    (dict(interpolation="CUBIC"), "Interpolation"),
    (dict(intensity={"nose": 1.0}), "unknown intensity group"),
    (dict(intensity={"mouth": float("nan")}), "finite"),
    (dict(smoothing=-2), "Smoothing"),
    (dict(start_frame=1048570), "outside Blender's frame range"),
    (dict(take_name="  "), "take name"),
])
def test_bad_options_raise_and_change_nothing(face, opts, message):
    before = _snapshot(bpy.context.scene)
    with pytest.raises(TakeError, match=message):
        apply_take(bpy.context.scene, face, make_perf(), TakeOptions(**opts))
    assert _snapshot(bpy.context.scene) == before


def test_bad_performance(face):
    perf = make_perf()
    perf.weights[3, 0] = np.nan
    with pytest.raises(TakeError, match="NaN"):
        apply_take(bpy.context.scene, face, perf, TakeOptions())
    from unitaf_blender.core.channels import HEAD_EYE_ROTATIONS
    with pytest.raises(TakeError, match="none of the channels"):
        apply_take(bpy.context.scene, face, make_perf(channels=HEAD_EYE_ROTATIONS), TakeOptions())


@pytest.mark.parametrize("push", [False, True])
@pytest.mark.parametrize("where", ["keying", "sound", "late"])
def test_atomic_rollback(face, tmp_path, monkeypatch, push, where):
    _artist_action(face)
    scene = bpy.context.scene
    scene.frame_end = 10
    if compat.has_audio():   # a strip that must survive the rollback
        from unitaf_blender.core.audio_io import write_wav
        write_wav(str(tmp_path / "other.wav"), np.zeros(8000, np.float32), 16000)
        compat.new_sound_strip(scene.sequence_editor_create(), "other", str(tmp_path / "other.wav"), 1, 1)
    before = _snapshot(scene)

    def boom(*a, **k):
        raise RuntimeError("forced failure")
    if where == "keying":   # half the F-curves written, then failure
        real = keying.compat.FCurveWriter.new
        calls = []

        def new(self, dp, index=0):
            calls.append(dp)
            if len(calls) == 3:
                boom()
            return real(self, dp, index)
        monkeypatch.setattr(keying.compat.FCurveWriter, "new", new)
    elif where == "sound":   # WAV written, strip creation fails
        if not compat.has_audio():
            pytest.skip("this bpy build has no Audaspace: no sound step to fail")
        monkeypatch.setattr(sound.compat, "new_sound_strip", boom)
    else:                    # everything created, then the very last step fails
        monkeypatch.setattr(takes.TakeResult, "__init__", boom)
    audio_dir = tmp_path / "audio"
    with pytest.raises(RuntimeError, match="forced failure"):
        apply_take(scene, face, make_perf(), TakeOptions(start_frame=1, push_to_nla=push, audio_dir=str(audio_dir)))
    assert _snapshot(scene) == before
    assert not audio_dir.exists() or os.listdir(audio_dir) == []
    assert face.data.shape_keys.animation_data.action.name == "ArtistBlink"
    assert not bpy.data.actions["ArtistBlink"].use_fake_user


def test_save_blend_rejects_bad_paths(face, tmp_path):
    with pytest.raises(TakeError, match=".blend"):
        takes.save_blend(str(tmp_path / "x.txt"))
    with pytest.raises(TakeError, match="does not exist"):
        takes.save_blend(str(tmp_path / "missing" / "x.blend"))


def test_no_audaspace_skips_sound_with_a_warning(face, monkeypatch):
    monkeypatch.setattr(compat, "has_audio", lambda: False)
    r = apply_take(bpy.context.scene, face, make_perf(), TakeOptions(start_frame=1))
    assert r.strip is None and r.audio_path is None
    assert any("no audio support" in w for w in r.warnings)
    assert not bpy.data.sounds
