"""What plays around a take (issues 19 and 22): the artist's own animation keeps playing outside
it, frame by frame, exactly as on a copy made before the take; a take eases in and out of
whatever is under it (the rest layer, the artist's animation) and keeps the character's
resting values during the line. Checked on the evaluated face track, every frame."""
import numpy as np
import pytest
from helpers import make_perf

from shared_paths import ASSETS, need

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import compat, keying, layers
from unitaf_blender.blender.takes import TakeOptions, apply_take
from unitaf_blender.core.channels import ARKIT_52
from unitaf_blender.engines import GenerateRequest
from unitaf_blender.engines.embedded.engine import EmbeddedEngine

MODELS = ASSETS / "models"
MODES = ["active", "nla"]
MAX_EDGE_STEP = 0.15      # issue 22: no key moves more than this in one frame at a take's edge


@pytest.fixture(scope="module")
def spoken():
    """A real embedded-engine line that starts on a bilabial (the lips are shut on frame 0): espeak's
    voice, which starts speaking at once (the natural voice breathes in for 0.3 s first)."""
    return EmbeddedEngine().generate(GenerateRequest(text="Bob may paint a map of Paris.", emotion="calm:0.3",
                                                     seed=4, voice="espeak:en-us"))


def _scene(frame_end=240):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    scene.frame_start, scene.frame_end, scene.frame_current = 1, frame_end, 1
    return scene


def _reference_copy(obj):
    """A copy made before the take: same keys, same artist's actions and NLA strips."""
    ref = obj.copy()
    ref.data = obj.data.copy()
    ref.name = obj.name + "_before"
    bpy.context.scene.collection.objects.link(ref)
    return ref


def _track(objects, frames):
    """The evaluated shape-key values of each object: {name: array [frame, key]}."""
    scene = bpy.context.scene
    out = {o.name: np.empty((len(frames), len(o.data.shape_keys.key_blocks) - 1)) for o in objects}
    for i, f in enumerate(frames):
        scene.frame_set(f)
        for o in objects:
            out[o.name][i] = [kb.value for kb in o.data.shape_keys.key_blocks[1:]]
    return out


def _take_curves(obj, result):
    action = [a for name, a, _, _ in result.parts if name == obj.name][0]
    names = [kb.name for kb in obj.data.shape_keys.key_blocks[1:]]
    curves = {keying.key_name_from_path(fc.data_path): fc for fc in compat.action_fcurves(action)}
    return [(names.index(name), fc) for name, fc in curves.items()]


def _check_around_take(obj, ref, result, frames, inside=True):
    """Outside the take `obj` shows exactly what the copy made before shows; inside, the take;
    on the frames it eases over, a linear blend from what the copy shows to the take."""
    tracks = _track([obj, ref], frames)
    got, before = tracks[obj.name], tracks[ref.name]
    pad = result.ease_frames
    first, last = result.frame_start - pad, result.frame_end + pad
    frames = np.asarray(frames)
    outside = (frames < first) | (frames > last)
    assert outside.sum() > 20 and np.abs(got[outside] - before[outside]).max() < 1e-5
    if not inside:
        return
    keyed = _take_curves(obj, result)
    assert keyed
    moved = 0.0
    for i, f in enumerate(frames):
        if f < first or f > last:
            continue
        if f < result.frame_start:
            w, hold = (f - first) / pad, result.frame_start
        elif f > result.frame_end:
            w, hold = (last - f) / pad, result.frame_end
        else:
            w, hold = 1.0, f
        for column, fc in keyed:
            take = fc.evaluate(hold)
            expected = before[i, column] + w * (take - before[i, column])
            assert got[i, column] == pytest.approx(expected, abs=1e-4), (f, fc.data_path)
            moved = max(moved, abs(got[i, column] - before[i, column]))
    assert moved > 0.1        # the take really plays inside


def _edge_steps(track, frames, result):
    """Per-frame steps of every key on the frames a take eases in and out over (from the frame
    before it starts easing to its first frame, and from its last to the frame after it)."""
    pad = result.ease_frames
    frames = list(frames)
    steps = np.abs(np.diff(track, axis=0))
    rows = [frames.index(f) for f in range(result.frame_start - pad - 1, result.frame_start)]
    rows += [frames.index(f) for f in range(result.frame_end, result.frame_end + pad + 1)]
    return steps[rows]


# --- issue 19, item 2: the artist's animation keeps playing -------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_face_cap_recording_keeps_playing_around_the_take(clean_scene, mode):
    """Face Cap's glTF: its recorded animation drives all 52 keys (active action + a muted NLA
    track of the same clip). They used to read 1.0 outside the take."""
    bpy.ops.import_scene.gltf(filepath=str(need(MODELS / "facecap_meshopt-decoded.glb")))
    scene = _scene(frame_end=250)
    face = bpy.data.objects["Mesh_2"]
    key = face.data.shape_keys
    recording, slot = compat.assigned_action(key)
    n_keys = len(key.key_blocks) - 1
    assert len(compat.action_fcurves(recording, slot)) == n_keys == 52
    ref = _reference_copy(face)
    perf = make_perf(seconds=2.0, fps=30.0, channels=ARKIT_52, audio=False, seed=3)
    result = apply_take(scene, face, perf, TakeOptions(start_frame=100, add_sound=False,
                                                       push_to_nla=mode == "nla"))
    _check_around_take(face, ref, result, range(-30, 320))
    assert len(layers.artist_channels(key)) == n_keys
    assert not recording.use_fake_user      # it plays from the NLA: nothing had to be kept aside


def _hand_keyed_live_link_head():
    """The Live Link head with an artist's hand-keyed action (a jaw move, a blink that cycles
    forever, a brow raise across the take) and a smirk on an NLA track of its own."""
    bpy.ops.wm.open_mainfile(filepath=str(need(MODELS / "Live_Link_Face.blend")), load_ui=False)
    head = bpy.data.objects["FBHead"]
    key = head.data.shape_keys
    action, slot = compat.new_action("Hand keyed", key)
    writer = compat.FCurveWriter(action, slot, "Artist")
    for name, keys in (("JawOpen", [(1, 0.089), (60, 0.5), (120, 0.1)]),
                       ("EyeBlinkLeft", [(1, 0.0), (4, 1.0), (8, 0.0)]),
                       ("BrowInnerUp", [(90, 0.0), (130, 0.6)])):
        fc = writer.new(keying.data_path(name))
        for frame, value in keys:
            fc.keyframe_points.insert(frame, value)
        if name == "EyeBlinkLeft":
            fc.modifiers.new('CYCLES')            # blinks all through the shot
    compat.assign_action(key, action, slot)
    smirk, smirk_slot = compat.new_action("Smirk", key)
    fc = compat.FCurveWriter(smirk, smirk_slot, "Artist").new(keying.data_path("MouthSmileLeft"))
    for frame, value in ((0, 0.0), (10, 0.7), (20, 0.0)):
        fc.keyframe_points.insert(frame, value)
    track = key.animation_data.nla_tracks.new()
    track.name = "Gestures"
    strip = compat.new_nla_strip(track, "Smirk", 150, smirk, smirk_slot)
    strip.extrapolation = 'NOTHING'
    return head


@pytest.mark.parametrize("mode", MODES)
def test_hand_keyed_action_and_nla_strip_keep_playing_around_the_take(clean_scene, mode):
    head = _hand_keyed_live_link_head()
    scene = _scene()
    ref = _reference_copy(head)
    brow_rest = head.data.shape_keys.key_blocks["BrowDownLeft"].value
    assert brow_rest == pytest.approx(0.318, abs=1e-3)
    perf = make_perf(seconds=2.0, fps=30.0, channels=ARKIT_52, audio=False, seed=5)
    result = apply_take(scene, head, perf, TakeOptions(start_frame=100, add_sound=False,
                                                       push_to_nla=mode == "nla"))
    _check_around_take(head, ref, result, range(-30, 300))
    # channels the artist animates are the take's during the line; the others keep their
    # resting value and the take adds to it (the sculpted resting brow stays)
    curves = {keying.key_name_from_path(fc.data_path): fc for fc in compat.action_fcurves(result.action)}
    jaw = np.interp(np.arange(result.frame_end - result.frame_start + 1) / 30.0,
                    np.arange(perf.n_frames) / perf.fps, perf.channel("jawOpen"))
    brow = np.interp(np.arange(result.frame_end - result.frame_start + 1) / 30.0,
                     np.arange(perf.n_frames) / perf.fps, perf.channel("browDownLeft"))
    for k in (0, 20, 45):
        f = result.frame_start + k
        assert curves["JawOpen"].evaluate(f) == pytest.approx(jaw[k], abs=1e-5)
        assert curves["BrowDownLeft"].evaluate(f) == pytest.approx(min(1.0, brow_rest + brow[k]), abs=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_a_muted_track_of_the_artist_stays_silent_around_the_take(clean_scene, mode):
    """A muted track plays nothing: its channel shows the key's own value (JawOpen 0.089), and
    must still show it around the take (not Blender's default for an animated key)."""
    bpy.ops.wm.open_mainfile(filepath=str(need(MODELS / "Live_Link_Face.blend")), load_ui=False)
    head = bpy.data.objects["FBHead"]
    key = head.data.shape_keys
    action, slot = compat.new_action("Unused jaw", key)
    compat.FCurveWriter(action, slot, "Artist").new(keying.data_path("JawOpen")).keyframe_points.insert(1, 0.9)
    track = key.animation_data_create().nla_tracks.new()
    compat.new_nla_strip(track, "Unused jaw", 1, action, slot)
    track.mute = True
    scene = _scene()
    ref = _reference_copy(head)
    perf = make_perf(seconds=1.0, fps=30.0, channels=ARKIT_52, audio=False, seed=8)
    result = apply_take(scene, head, perf, TakeOptions(start_frame=60, add_sound=False,
                                                       push_to_nla=mode == "nla"))
    _check_around_take(head, ref, result, range(0, 200))
    scene.frame_set(10)
    assert key.key_blocks["JawOpen"].value == pytest.approx(0.089, abs=1e-3)


def test_artist_action_with_influence_and_blend_is_pushed_down_as_it_played(clean_scene):
    """An active action playing at half influence, added to what is under it, holding only
    over its keys: the pushed-down strip plays it the same way."""
    head = _hand_keyed_live_link_head()
    ad = head.data.shape_keys.animation_data
    ad.action_influence, ad.action_blend_type, ad.action_extrapolation = 0.5, 'ADD', 'NOTHING'
    scene = _scene()
    ref = _reference_copy(head)
    ref_ad = ref.data.shape_keys.animation_data
    ref_ad.action_influence, ref_ad.action_blend_type, ref_ad.action_extrapolation = 0.5, 'ADD', 'NOTHING'
    perf = make_perf(seconds=1.0, fps=30.0, channels=ARKIT_52, audio=False, seed=6)
    result = apply_take(scene, head, perf, TakeOptions(start_frame=160, add_sound=False, push_to_nla=True))
    # (inside, the blend starts from values the slider clamps: adding to 5.0's default 1.0)
    _check_around_take(head, ref, result, range(-10, 260), inside=False)


# --- issue 22, item 5: takes ease in and out, and keep the resting offsets ----------------------

@pytest.mark.parametrize("mode", MODES)
def test_live_link_head_eases_in_and_out_and_keeps_its_resting_brow(clean_scene, spoken, mode):
    bpy.ops.wm.open_mainfile(filepath=str(need(MODELS / "Live_Link_Face.blend")), load_ui=False)
    head = bpy.data.objects["FBHead"]
    scene = _scene()
    names = [kb.name for kb in head.data.shape_keys.key_blocks[1:]]
    rest = np.array([kb.value for kb in head.data.shape_keys.key_blocks[1:]])
    result = apply_take(scene, head, spoken, TakeOptions(start_frame=40, add_sound=False,
                                                         push_to_nla=mode == "nla"))
    pad = result.ease_frames
    assert pad == 8                                      # 0.25 s at 30 fps
    frames = range(result.frame_start - pad - 5, result.frame_end + pad + 6)
    track = _track([head], frames)[head.name]
    steps = _edge_steps(track, frames, result)
    assert steps.max() <= MAX_EDGE_STEP, names[int(np.argmax(steps.max(axis=0)))]
    inside = slice(pad + 5, pad + 5 + result.frame_end - result.frame_start + 1)
    for side in ("BrowDownLeft", "BrowDownRight"):
        assert rest[names.index(side)] == pytest.approx(0.318, abs=1e-3)
        assert track[inside, names.index(side)].min() >= rest[names.index(side)] - 1e-4
    assert np.abs(track[:5] - rest).max() < 1e-6 and np.abs(track[-5:] - rest).max() < 1e-6
    assert track[inside, names.index("JawOpen")].max() > rest[names.index("JawOpen")] + 0.2


def _rocketbox_visemes():
    """The Rocketbox head with only its 15 viseme keys (AA_VI_00_Sil ... AA_VI_14_U)."""
    bpy.ops.import_scene.fbx(filepath=str(need(MODELS / "Rocketbox_Female_Adult_01_facial.fbx")))
    head = [o for o in bpy.data.objects if o.type == 'MESH' and o.data.shape_keys][0]
    for kb in [kb for kb in head.data.shape_keys.key_blocks[1:] if not kb.name.startswith("AA_VI_")]:
        head.shape_key_remove(kb)
    return head


@pytest.mark.parametrize("mode", MODES)
def test_viseme_rig_eases_into_its_first_bilabial(clean_scene, spoken, mode):
    head = _rocketbox_visemes()
    scene = _scene()
    names = [kb.name for kb in head.data.shape_keys.key_blocks[1:]]
    result = apply_take(scene, head, spoken, TakeOptions(start_frame=30, add_sound=False,
                                                         push_to_nla=mode == "nla"))
    pad = result.ease_frames
    frames = range(result.frame_start - pad - 3, result.frame_end + pad + 4)
    track = _track([head], frames)[head.name]
    pp = names.index("AA_VI_01_PP")
    assert track[pad + 3, pp] > 0.5                     # "Bob": the lips are shut on its first frame...
    assert track[0, pp] < 1e-6                          # ...and open before the take
    steps = _edge_steps(track, frames, result)
    assert steps.max() <= MAX_EDGE_STEP, names[int(np.argmax(steps.max(axis=0)))]


def test_ready_player_me_head_and_teeth_ease_together(clean_scene, spoken):
    """A whole character: head and teeth visemes (active actions, keyed blend) and its
    head/eye bones (NLA, live blend) ease in and out over the same frames."""
    bpy.ops.import_scene.gltf(filepath=str(need(MODELS / "noncommercial" / "brunette-t.glb")))
    meshes = [bpy.data.objects[n] for n in ("Wolf3D_Head", "Wolf3D_Teeth")]
    for obj in meshes:
        for kb in [kb for kb in obj.data.shape_keys.key_blocks[1:] if not kb.name.startswith("viseme_")]:
            obj.shape_key_remove(kb)
    scene = _scene()
    before = _track(meshes, [10])
    result = apply_take(scene, meshes[0], spoken, TakeOptions(start_frame=30, add_sound=False))
    assert {name for name, _, _, _ in result.parts} >= {"Wolf3D_Head", "Wolf3D_Teeth"}
    pad = result.ease_frames
    frames = range(result.frame_start - pad - 3, result.frame_end + pad + 4)
    tracks = _track(meshes, frames)
    for obj in meshes:
        assert _edge_steps(tracks[obj.name], frames, result).max() <= MAX_EDGE_STEP, obj.name
        assert np.abs(tracks[obj.name][0] - before[obj.name][0]).max() < 1e-6
