"""Apply a Performance to a mesh as one "take": a new shape-key action + a sound strip.

Public API used by the CLI and the operators. `apply_take` runs in named steps: plan (every
check, before anything is touched; the take is keyed relative to the character's resting
values) -> rest layer (rest_pose.py) -> empty the active action slot (the artist's action is
pushed down, layers.py) -> write the action, padded to ease in and out (ease.py) -> place it
(NLA strip or active action; bones: a Combine strip, bone_targets.py) -> sound strip ->
verify that Blender really plays it -> retire the take it re-generates. It is atomic: on any
failure it removes everything it created and restores the previous animation, then re-raises.
"""
import json
import os
from dataclasses import dataclass, field
from typing import Optional

import bpy
import numpy as np

from ..core.face_bones import sealed_jaw
from ..core.performance import Performance
from ..core.pose_map import PoseMapError
from ..core.retime import scene_fps
from ..core.signal import n_frames_for
from ..core.staging import StagedFiles
from . import bone_targets, character, compat, ease, face_target, keying, layers, pose_library, rest_pose, rig
from .mapping_store import object_plan
from .rest_pose import REST_MARK, RestLayer, rest_values
from .sound import SoundPlacement, point_sound_at, relative_take_sounds, wav_path_for

MIN_FRAME, MAX_FRAME = -1048574, 1048574   # Blender's MINAFRAME/MAXFRAME
MAX_SMOOTHING = 1000                       # frames of moving average (40 s at 25 fps): far past any use
TAKE_TRACK = "UniTAF takes"


class TakeError(ValueError):
    """Bad input for a take; the message is shown to the user as is."""


@dataclass
class TakeOptions:
    start_frame: Optional[int] = None          # None = scene.frame_current
    intensity: dict = field(default_factory=lambda: {"mouth": 1.0, "brows": 1.0, "eyes": 1.0, "other": 1.0})
    smoothing: int = 0                         # moving-average window in frames (0/1 = off)
    interpolation: str = "LINEAR"              # LINEAR | BEZIER | CONSTANT
    push_to_nla: bool = False                  # place the take as an NLA strip, not the active action
    take_name: Optional[str] = None            # None = take1, take2, ...
    add_sound: bool = True
    audio_dir: Optional[str] = None            # where WAVs go (None: packed into the .blend)
    recording: Optional[str] = None            # lip sync: the strip plays this file in place (no WAV written)
    word_markers: bool = True                  # the words as pose markers on the take's action
    pose_maps: tuple = ()                      # core.pose_map.PoseMap given for this take (else the stored one)


@dataclass
class TakeResult:
    action: object
    strip: object                              # sound strip or None
    frame_start: int
    frame_end: int
    target_plan: object                        # core.targets.TargetPlan of the target mesh
    audio_path: Optional[str]
    warnings: list = field(default_factory=list)
    take_name: str = ""
    nla_strip: object = None
    ease_frames: int = 0                       # the take eases in over this many frames before frame_start, out after frame_end
    parts: list = field(default_factory=list)  # [(object name, action, what: shape keys or bones)], head first
    notes: list = field(default_factory=list)  # what moves the bones, for the report


# --- validation ------------------------------------------------------------------------------

def _checked_target(obj, pose_maps=()):
    try:
        target = face_target.resolve(obj, pose_maps)
    except face_target.TargetError as e:
        raise TakeError(str(e)) from None
    _check_evaluated(obj)
    return target


def _check_evaluated(obj):
    """Blender evaluates only objects in the view layer: a take on an object outside it (an
    excluded collection, or no collection of this scene) would be keyed but never play."""
    view_layer = bpy.context.view_layer
    if view_layer is None or _reachable(obj, view_layer.layer_collection):
        return
    excluded = [lc.name for lc in _layer_collections(view_layer.layer_collection)
                if lc.exclude and obj.name in lc.collection.all_objects]
    if excluded:
        raise TakeError(f"'{obj.name}' is in the collection '{excluded[0]}', which is excluded from the view layer "
                        f"'{view_layer.name}': Blender does not evaluate it, so a take would never play. "
                        "Include the collection (its checkbox in the Outliner) or move the object out of it.")
    raise TakeError(f"'{obj.name}' is not in the view layer '{view_layer.name}' of this scene (it is in no "
                    "collection of the scene): Blender does not evaluate it, so a take would never play. "
                    "Link it into the scene first.")


def _reachable(obj, layer_collection):
    """`obj` is in this layer collection or in one below it that is not excluded (read from the
    collections: the view layer's own object list is synced lazily)."""
    if obj.name in layer_collection.collection.objects:
        return True
    return any(_reachable(obj, child) for child in layer_collection.children if not child.exclude)


def _layer_collections(root):
    for child in root.children:
        yield child
        yield from _layer_collections(child)


def validate_target(obj, pose_maps=()) -> None:
    """Raise TakeError when `obj` cannot receive a take (None, not a mesh or armature,
    linked, nothing to animate, a pose map it cannot use). Reads only: the object and the
    file stay exactly as they were."""
    target = _checked_target(obj, pose_maps)
    if target.pose_map is not None:
        try:
            pose_library.resolve(target.pose_map, target.armature, face_target.character_meshes(target))
        except PoseMapError as e:
            raise TakeError(str(e)) from None


def _check_performance(perf):
    if perf is None or perf.n_frames == 0:
        raise TakeError("The performance has no face frames.")
    if not np.all(np.isfinite(perf.weights)):
        raise TakeError("The performance contains NaN or infinite values.")


def check_take_options(opts):
    """Every TakeOptions value, checked before any generation (TakeError): intensities,
    interpolation, smoothing, the start frame and the take name. Returns the intensities."""
    try:
        intensity = keying.validate_intensity(opts.intensity)
    except ValueError as e:
        raise TakeError(str(e)) from None
    if opts.interpolation not in keying.INTERPOLATIONS:
        raise TakeError(f"Interpolation must be one of {', '.join(keying.INTERPOLATIONS)}, "
                        f"got {opts.interpolation!r}.")
    if not 0 <= int(opts.smoothing) <= MAX_SMOOTHING:
        raise TakeError(f"Smoothing must be 0..{MAX_SMOOTHING} frames, got {opts.smoothing}.")
    if opts.start_frame is not None and not MIN_FRAME <= int(opts.start_frame) <= MAX_FRAME:
        raise TakeError(f"The start frame {opts.start_frame} is outside Blender's frame range "
                        f"{MIN_FRAME}..{MAX_FRAME}.")
    if opts.take_name is not None and not str(opts.take_name).strip():
        raise TakeError("The take name is empty.")
    return intensity


def _action_name(obj, take):
    return f"UniTAF_{obj.name}_{take}"


def _wav_in_use(path, staged) -> bool:
    """True when a sound of this file, a file staged by this command or one of its inputs
    (protected by the staging) already has `path`."""
    if path is None:
        return False
    if staged is not None and (path in staged.finals or staged.protects(path)):
        return True
    return any(os.path.normcase(os.path.abspath(bpy.path.abspath(s.filepath))) == os.path.normcase(path)
               for s in bpy.data.sounds if s.filepath)


def _take_name(objects, wanted, audio_dir, staged):
    """(take name, {object name: its existing take of that name}).

    An explicit name that the character already has is re-generated (the old take is replaced
    once the new one works); automatic names count up (take1, take2, ...) past actions and
    sounds in use on every mesh of the character. A WAV name is never shared by two takes."""
    if wanted is not None:
        wanted = str(wanted).strip()
        if not wanted:
            raise TakeError("The take name is empty.")
        old = {o.name: bpy.data.actions.get(_action_name(o, wanted)) for o in objects}
        old = {name: a for name, a in old.items() if a is not None and a.get(layers.TAKE_MARK) == wanted}
        if old:
            return wanted, old
    base = wanted or "take"
    n = 0 if wanted else 1
    while True:
        take = f"{base}{n}" if not wanted else (base if n == 0 else f"{base}_{n + 1}")
        if all(_action_name(o, take) not in bpy.data.actions for o in objects) \
                and not _wav_in_use(wav_path_for(take, audio_dir), staged):
            return take, {}
        n += 1


def _prop_value(v):
    if isinstance(v, (bool, int, float, str)):
        return v
    return json.dumps(v, default=str)


@dataclass
class _Part:
    """One animated datablock of the character, with its own action in the take: a mesh's
    shape keys, or the armature's bones (bone_targets.py)."""
    obj: object                     # the object the action is named after
    key: object                     # what the action animates: a shape-key datablock or the armature object
    target_plan: object             # core.targets.TargetPlan (None for bones and pose-only keys)
    curves: list                    # [(data path, array index, float32 values per frame)]
    labels: list                    # what is animated, for the report (shape keys or bones)
    rest: dict = field(default_factory=dict)    # {(data path, index): resting value} the rest layer holds
    replaces: object = None         # this part's earlier take of the same name, or None
    nla_only: bool = False          # bones: the armature's own action (a body clip) keeps playing
    roles: list = field(default_factory=list)   # bones: what moved them (pose map, face rig, head...)
    neutral: dict = None            # bones: curves are changes for a Combine strip; {channel: no change}

    @property
    def channels(self):
        return [(path, index) for path, index, _ in self.curves]

    @property
    def blend_type(self):
        """Shape keys replace what is under them; bones add their motion to it (the artist's
        clip, the rest layer), see bone_targets.py."""
        return 'REPLACE' if self.neutral is None else 'COMBINE'


@dataclass
class _Plan:
    """Everything a take will write, worked out (and checked) before anything is touched."""
    scene: object
    perf: object
    opts: TakeOptions
    fps: float
    start: int
    end: int
    ease: int                       # frames the take eases in before `start` and out after `end`
    take: str
    parts: list                     # [_Part], the leading mesh first (the armature when bones only)
    warnings: list

    @property
    def head(self):
        return self.parts[0]

    @property
    def first(self):
        """The first frame the take's keys cover (its ease in starts there)."""
        return self.start - self.ease

    @property
    def last(self):
        return self.end + self.ease

    def in_nla(self, part) -> bool:
        return self.opts.push_to_nla or part.nla_only


def _unique_direct(plan, warnings):
    """A stored table may send two channels to one key: the first one keeps it."""
    seen = {}
    for ch, key_name in list(plan.direct.items()):
        if key_name in seen:
            warnings.append(f"'{ch}' and '{seen[key_name]}' both map to '{key_name}'; using '{seen[key_name]}'.")
            del plan.direct[ch]
            continue
        seen[key_name] = ch
    return plan


def _resting(block, channels):
    """{(data path, index): resting value} of the `channels` that no animation of the
    artist's drives on `block` (layers.py): what the rest layer holds, and what the take's
    motion is added to."""
    return rest_pose.planned_values(block, channels, layers.artist_channels(block))


def _check_tweak_mode(key, what):
    if key.animation_data is not None and key.animation_data.use_tweak_mode:
        raise TakeError(f"{what} in NLA tweak mode: exit it (Tab in the NLA editor) first.")


def _part_for(obj, plan, perf, fps, intensity, smoothing, warnings):
    key = obj.data.shape_keys
    _check_tweak_mode(key, f"The shape keys of '{obj.name}' are")
    plan = _unique_direct(plan, warnings)
    names = [name for name in plan.keys() if name in key.key_blocks]
    rest = _resting(key, [(keying.data_path(name), 0) for name in names])
    offsets = {keying.key_name_from_path(path): value for (path, _), value in rest.items()}
    _, tracks = keying.plan_tracks(perf, plan, key.key_blocks, fps, intensity, smoothing, offsets)
    used = plan.channels_read() if tracks else set()
    part = _Part(obj, key, plan, keying.shape_key_curves(tracks), [name for name, _ in tracks])
    part.rest = {c: v for c, v in rest.items() if c in set(part.channels)}
    _warn_maxed(obj, key, part, warnings)
    return part, used


def _warn_maxed(obj, key, part, warnings):
    """Keys resting at their maximum cannot move: the take adds its motion to the rest value."""
    maxed = []
    for (path, _), value in part.rest.items():
        kb = key.key_blocks[keying.key_name_from_path(path)]
        if kb.slider_max > 0 and value >= kb.slider_max - 0.02:
            maxed.append(f"{kb.name} {value:.2f}")
    if maxed:
        warnings.append(f"{len(maxed)} shape key(s) on '{obj.name}' rest at their maximum "
                        f"({', '.join(maxed[:5])}{'...' if len(maxed) > 5 else ''}): a take adds its "
                        "motion to each key's resting value, so they cannot move. Set them to 0 if they "
                        "are not part of the character's neutral face.")


def _with_pose_keys(parts, key_curves, warnings):
    """Shape keys a pose carries join their mesh's part (the pose wins over a mapped key of
    the same name); a mesh with no mapped key gets a part of its own."""
    for mesh_name, tracks in key_curves.items():
        obj = bpy.data.objects[mesh_name]
        part = next((p for p in parts if p.obj == obj), None)
        if part is None:
            _check_tweak_mode(obj.data.shape_keys, f"The shape keys of '{obj.name}' are")
            part = _Part(obj, obj.data.shape_keys, None, [], [])
            parts.append(part)
        names = {name for name, _ in tracks}
        part.curves = [c for c in part.curves if keying.key_name_from_path(c[0]) not in names] + \
            keying.shape_key_curves(tracks)
        part.labels = [label for label in part.labels if label not in names] + [name for name, _ in tracks]


def _keys_performance(perf, keys_read):
    """The performance the shape keys read: when no key closes the lips (nothing reads
    mouthClose), the jaw key carries the seal (core.face_bones.sealed_jaw)."""
    if "jawOpen" not in keys_read or "mouthClose" in keys_read:
        return perf
    return Performance(audio=perf.audio, sample_rate=perf.sample_rate, fps=perf.fps, channels=perf.channels,
                       weights=sealed_jaw(perf.channels, perf.weights), meta=perf.meta)


def padded_span(start: int, n_frames: int, fps: float) -> tuple:
    """(first, last, pad): the frames a take of `n_frames` frames from `start` keys, with the
    `pad` frames it eases in and out over (ease.frames) either side; both ends must lie in
    MIN_FRAME..MAX_FRAME."""
    pad = ease.frames(fps)
    return start - pad, start + n_frames - 1 + pad, pad


def _plan(scene, obj, perf, opts, staged) -> _Plan:
    target = _checked_target(obj, opts.pose_maps)
    _check_performance(perf)
    intensity = check_take_options(opts)
    fps = scene_fps(scene.render.fps, scene.render.fps_base)
    start = scene.frame_current if opts.start_frame is None else int(opts.start_frame)
    # Bound the size before resampling allocates it (a bad header must not exhaust memory).
    n_frames = n_frames_for((perf.n_frames - 1) / perf.fps, 1.0, fps)
    first, last, pad = padded_span(start, n_frames, fps)
    if first < MIN_FRAME or last > MAX_FRAME:
        raise TakeError(f"The take would span frames {first}-{last} "
                        f"({perf.duration:.1f} s at {fps:g} fps, with {pad} frames to ease in and "
                        f"out), outside Blender's frame range {MIN_FRAME}..{MAX_FRAME}.")
    warnings, smoothing = [], int(opts.smoothing)
    meshes = [(target.head, target.plan)] + [(o, object_plan(o)) for o in character.companions(target.head)] \
        if target.head is not None else []
    keys_read = set()
    for _, mesh_plan in meshes:
        keys_read |= mesh_plan.channels_read()
    keys_perf = _keys_performance(perf, keys_read)
    parts, driven = [], set()
    for mesh, mesh_plan in meshes:
        part, used = _part_for(mesh, mesh_plan, keys_perf, fps, intensity, smoothing, warnings)
        if mesh is target.head and not part.curves:
            raise TakeError(f"The performance has none of the channels mapped on '{mesh.name}' "
                            f"(performance channels: {', '.join(perf.channels[:5])}...).")
        if part.curves:
            parts.append(part)
            driven |= used
    gaze_on_keys = any(ch.startswith("eyeLook") for ch in driven)
    if gaze_on_keys:   # gaze shows through the eyeLook keys
        driven |= {c for side in rig.EYE_TURN.values() for c in side}
    if target.armature is not None:
        _check_tweak_mode(target.armature, f"'{target.armature.name}' is")
        try:
            bones = bone_targets.plan_bones(
                target.armature, perf, fps, n_frames, intensity, smoothing, driven, gaze_on_keys,
                target.pose_map, face_target.character_meshes(target), warnings)
        except ValueError as e:        # a pose map it cannot use
            raise TakeError(str(e)) from None
        if bones is not None:
            _with_pose_keys(parts, bones.key_curves, warnings)
            if bones.curves:
                parts.append(_Part(target.armature, target.armature, None, bones.curves, bones.labels,
                                   nla_only=True, roles=bones.sources, neutral=bones.neutral))
            driven |= bones.channels
    if not parts:
        raise TakeError(f"Nothing of '{obj.name}' moves with this performance: its bones show none of the "
                        f"channels (performance channels: {', '.join(perf.channels[:5])}...).")
    held = int((perf.meta or {}).get("held_rows") or 0)
    if held:
        warnings.append(f"{held} repeated row(s) in the recording (frames the device held) were "
                        "treated as missing and interpolated.")
    warnings += [str(w) for w in (perf.meta or {}).get("warnings") or ()]   # the source's own (engine, reader)
    warnings += face_target.dropped_report(perf, driven, target.armature)
    for part in parts:   # bones and the keys a pose carries: rest values the keys were not planned with
        missing = [c for c in part.channels if c not in part.rest]
        if missing:
            part.rest.update(_resting(part.key, missing))
    take, replaces = _take_name([p.obj for p in parts], opts.take_name, opts.audio_dir, staged)
    for part in parts:
        part.replaces = replaces.get(part.obj.name)
    return _Plan(scene, perf, opts, fps, start, start + n_frames - 1, pad, take, parts, warnings)


# --- rollback --------------------------------------------------------------------------------

class _KeyUndo:
    """What a take created or changed on one animated datablock."""

    def __init__(self, key):
        self.key = key
        ad = key.animation_data
        self.had_animdata = ad is not None
        self.prev_action, self.prev_slot = compat.assigned_action(key)
        self.prev_fake = self.prev_action.use_fake_user if self.prev_action else None
        self.prev_settings = None if ad is None else (ad.action_extrapolation, ad.action_blend_type,
                                                      ad.action_influence)
        self.action = None
        self.tracks = []
        self.nla_strips = []
        self.muted = []             # strips of a replaced take, muted while the new one is checked
        self.rest = RestLayer(key)

    def rollback(self):
        ad = self.key.animation_data
        if ad is not None:
            for strip in self.muted:
                strip.mute = False
            for track, strip in reversed(self.nla_strips):
                if track not in self.tracks:
                    track.strips.remove(strip)
            for track in reversed(self.tracks):
                ad.nla_tracks.remove(track)
            compat.assign_action(self.key, self.prev_action, self.prev_slot)
            if self.prev_settings is not None:
                ad.action_extrapolation, ad.action_blend_type, ad.action_influence = self.prev_settings
        self.rest.undo()
        if ad is not None and not self.had_animdata:
            self.key.animation_data_clear()
        if self.prev_action is not None:
            self.prev_action.use_fake_user = self.prev_fake
        if self.action is not None:
            bpy.data.actions.remove(self.action)


class _Undo:
    """Everything a take created or changed, so a failure can put the scene back."""

    def __init__(self, scene, parts):
        self.scene = scene
        self.frame_end = scene.frame_end
        self.keys = [_KeyUndo(part.key) for part in parts]
        self.sound = SoundPlacement()

    def rollback(self):
        for key_undo in reversed(self.keys):
            key_undo.rollback()
        self.sound.undo(self.scene)
        self.scene.frame_end = self.frame_end


# --- NLA -------------------------------------------------------------------------------------

def _overlaps(track, start, end):
    return any(s.frame_start <= end and start <= s.frame_end for s in track.strips)


def _take_track(ad, start, end, undo):
    """A UniTAF track above every other track with room for [start, end], else a new one."""
    tracks = list(ad.nla_tracks)
    top_other = max((i for i, t in enumerate(tracks) if not t.name.startswith(TAKE_TRACK)), default=-1)
    for track in tracks[top_other + 1:]:
        if not _overlaps(track, start, end):
            return track
    track = ad.nla_tracks.new()   # appended on top: evaluated last, so it wins
    track.name = TAKE_TRACK
    undo.tracks.append(track)
    return track


def _new_take_strip(track, action, slot, start, blend, blend_type='REPLACE'):
    """A take's strip: plays only over its own frames, easing in and out over `blend` frames."""
    strip = compat.new_nla_strip(track, action.name, start, action, slot)
    strip.extrapolation = 'NOTHING'
    strip.blend_type = blend_type
    strip.use_auto_blend = False
    strip.blend_in = blend
    strip.blend_out = blend
    return strip


def _strips_playing(ad, action):
    return [s for t in ad.nla_tracks for s in t.strips if s.action == action]


def _track_of(ad, strip):
    return next(t for t in ad.nla_tracks if strip in list(t.strips))


# --- the take, step by step ------------------------------------------------------------------

def _clear_active(plan, part, undo):
    """Empty the active action slot before the take is placed, and stop the take it replaces.

    The artist's action there moves to the NLA and keeps playing exactly as it did (layers.py).
    A previous take there keeps playing from a takes track when this take goes to the NLA too;
    when this take becomes the active action it takes that take's place (kept, fake user)."""
    ad = part.key.animation_data or part.key.animation_data_create()
    if part.replaces is not None:
        for strip in _strips_playing(ad, part.replaces):
            if not strip.mute:
                strip.mute = True
                undo.muted.append(strip)
    prev, slot = undo.prev_action, undo.prev_slot
    if prev is None:
        return
    if not layers.is_ours(prev):
        scene = plan.scene
        track, _ = layers.push_down(part.key, prev, slot,
                                    (scene.frame_start, scene.frame_end, plan.first, plan.last))
        undo.tracks.append(track)
        plan.warnings.append(f"Your action '{prev.name}' on '{part.obj.name}' now plays from the NLA "
                             f"track '{track.name}' (pushed down), so it keeps playing around the take.")
    elif prev != part.replaces and not prev.get(REST_MARK):
        if plan.in_nla(part):
            first, last = (int(round(f)) for f in prev.frame_range)
            track = _take_track(ad, first, last, undo)
            undo.nla_strips.append((track, _new_take_strip(track, prev, slot, first, 0, part.blend_type)))
        else:
            prev.use_fake_user = True
            plan.warnings.append(f"Previous take '{prev.name}' on '{part.obj.name}' was kept (fake user).")
    compat.assign_action(part.key, None)


def _eased_frames(plan):
    return list(range(plan.first, plan.start)) + list(range(plan.end + 1, plan.last + 1))


def _under_keyed(plan):
    """For each part that becomes the active action (it has no NLA blend): what plays under it
    on the frames it eases over, evaluated now that the active slot is empty. None for NLA parts."""
    keyed = [part for part in plan.parts if not plan.in_nla(part)]
    if not keyed:
        return [None] * len(plan.parts)
    values = iter(ease.values_under(plan.scene, [(part.key, part.channels) for part in keyed],
                                    _eased_frames(plan)))
    return [None if plan.in_nla(part) else next(values) for part in plan.parts]


def _write_action(plan, part, undo, under):
    action, slot = compat.new_action(_action_name(part.obj, plan.take), part.key)
    undo.action = action
    pad, curves = plan.ease, []
    for path, index, values in part.curves:
        values = ease.padded(values, pad)
        if under is not None:
            below = under[(path, index)]
            values = ease.blend_keyed(values, below[:pad], below[pad:], pad)
        curves.append((path, index, values))
    keying.write_curves(action, slot, plan.first, curves, plan.opts.interpolation)
    action.use_frame_range = True
    action.frame_start, action.frame_end = plan.first, plan.last
    meta = plan.perf.meta or {}
    if part is plan.head and plan.opts.word_markers:
        _mark_words(action, plan)
    action[layers.TAKE_MARK] = plan.take
    action["unitaf_bake_fps"] = float(plan.fps)
    action["unitaf_source_fps"] = float(plan.perf.fps)
    action["unitaf_ease_frames"] = int(pad)
    for name in ("engine", "text", "emotion", "seed"):
        if meta.get(name) is not None:
            action[f"unitaf_{name}"] = _prop_value(meta[name])
    return action, slot


def _mark_words(action, plan):
    """Each word's start as a pose marker: they travel with the action, so an animator sees
    (and can nudge) the words wherever the take is placed."""
    for word in plan.perf.words:
        marker = action.pose_markers.new(word.label[:63])
        marker.frame = plan.start + int(round(word.start * plan.fps))


def _place(plan, part, action, slot, undo):
    """Make the take play: an NLA strip above the others, or the active action. Returns the
    NLA strip or None."""
    ad = part.key.animation_data
    if plan.in_nla(part):
        track = _take_track(ad, plan.first, plan.last, undo)
        nla_strip = _new_take_strip(track, action, slot, plan.first, plan.ease, part.blend_type)
        undo.nla_strips.append((track, nla_strip))
        return nla_strip
    compat.assign_action(part.key, action, slot)
    ad.action_extrapolation = 'NOTHING'       # outside its keys, what is under it shows
    ad.action_blend_type = 'REPLACE'
    ad.action_influence = 1.0
    return None


def _place_sound(plan, undo, staged):
    perf, opts = plan.perf, plan.opts
    if not opts.add_sound:
        return None, None
    if len(perf.audio) == 0:
        plan.warnings.append("The performance has no audio: no sound strip was added.")
        return None, None
    if not compat.has_audio():
        plan.warnings.append("This Blender build has no audio support (Audaspace): no sound strip was added.")
        return None, None
    if opts.recording:
        length = int(np.ceil(len(perf.audio) / perf.sample_rate * plan.fps)) + 1
        path = os.path.abspath(bpy.path.abspath(opts.recording))
        return undo.sound.reference(plan.scene, plan.take, path, plan.start, length), path
    strip = undo.sound.place(plan.scene, plan.take, perf.audio, perf.sample_rate, plan.start, plan.fps,
                             opts.audio_dir, staged)
    return strip, undo.sound.wav_path


def _verify(plan, part, action, nla_strip):
    """Check that the keyed take really plays: the action has a user and, at the frame where
    one channel moves furthest from its rest value (bones: from no change), Blender evaluates
    every channel that moves there as the take keys it -- bones: its change combined with
    what plays under the take, read with the take's strip muted (a driver on one bone of a
    rig is caught too)."""
    if action.users == 0:
        raise TakeError(f"The take was keyed but nothing uses its action on '{part.obj.name}'.")
    still = part.neutral if part.neutral is not None else rest_values(part.key)
    best = None
    for path, index, values in part.curves:
        swing = np.abs(values - still.get((path, index), values[0]))
        i = int(np.argmax(swing))
        if swing[i] > 1e-3 and (best is None or swing[i] > best[0]):
            best = (float(swing[i]), i)
    if best is None:
        return   # a take that never leaves the rest pose looks the same either way
    i = best[1]
    frame = plan.start + i
    keyed = {(path, index): float(values[i]) for path, index, values in part.curves}
    moved = [(path, index) for path, index, values in part.curves
             if abs(values[i] - still.get((path, index), values[0])) > 1e-3]
    expected = keyed
    if part.neutral is not None:
        nla_strip.mute = True
        try:
            under = _evaluated(plan.scene, part.key, keyed, frame)
        finally:
            nla_strip.mute = False
        expected = bone_targets.combined(under, keyed, part.neutral)
    got = _evaluated(plan.scene, part.key, moved, frame)
    wrong = [(path, index, got[(path, index)], expected[(path, index)]) for path, index in moved
             if abs(got[(path, index)] - expected[(path, index)]) > 1e-3]
    if wrong:
        path, index, value, wanted = wrong[0]
        raise TakeError(
            f"The take was keyed on '{part.obj.name}' but does not play: at frame {frame} "
            f"{path}[{index}] evaluates to {value:.3f}, not {wanted:.3f}. A driver, a muted NLA "
            "track or a constraint may override it.")


def _evaluated(scene, block, channels, frame):
    """{(data path, index): value} of `block` as Blender evaluates it at `frame`."""
    values = ease.values_under(scene, [(block, list(channels))], [frame])[0]
    return {channel: float(v[0]) for channel, v in values.items()}


def _bones_note(part):
    names = ", ".join(part.labels[:12]) + ("..." if len(part.labels) > 12 else "")
    return f"bones of '{part.obj.name}' (moved by {', '.join(part.roles)}): {names}"


def _retire_replaced(plan, part, action, nla_strip):
    """The new take works: remove the take it re-generates on this datablock. The new take
    gets its name and, where it fits, its NLA track back. Returns the take's NLA strip."""
    old = part.replaces
    if old is None:
        return nla_strip
    ad = part.key.animation_data
    home = None
    for track in list(ad.nla_tracks):
        for old_strip in list(track.strips):
            if old_strip.action == old:
                home = home or track
                track.strips.remove(old_strip)
    bpy.data.actions.remove(old)
    action.name = _action_name(part.obj, plan.take)
    if nla_strip is not None:
        if home is not None and _track_of(ad, nla_strip) != home and not _overlaps(home, plan.first, plan.last):
            # the API cannot move a strip between tracks: make it again there
            slot = compat.strip_slot(nla_strip)
            _track_of(ad, nla_strip).strips.remove(nla_strip)
            nla_strip = _new_take_strip(home, action, slot, plan.first, plan.ease, part.blend_type)
        nla_strip.name = action.name
    for track in list(ad.nla_tracks):
        if track.name.startswith(TAKE_TRACK) and len(track.strips) == 0:
            ad.nla_tracks.remove(track)
    return nla_strip


def _retire_replaced_sound(plan, placement):
    """The new take works: remove the sound strip of the take it re-generates; the new strip
    takes its name and, where it is free, its channel."""
    strip = placement.strip
    old = plan.head.replaces
    name = old.get("unitaf_sound_strip") if old is not None else None
    se = plan.scene.sequence_editor
    channel = None
    if name and se is not None:
        for s in compat.all_strips(se):
            if s.name == name and s.type == 'SOUND' and s != strip:
                channel, sound = s.channel, s.sound
                compat.remove_strip(se, s)
                if sound is not None and sound.users == 0:
                    bpy.data.sounds.remove(sound)
                break
    if strip is not None:
        strip.name = plan.take
        placement.settle(plan.scene, channel)


def apply_take(scene, obj, perf, opts: Optional[TakeOptions] = None, staged=None) -> TakeResult:
    """Key `perf` on `obj` (and the other meshes of its character, see character.py) as one
    take. With `staged` (core.staging.StagedFiles) the take's WAV stays a temporary file until
    the caller commits them; without one it is moved into `opts.audio_dir` when the take
    succeeds."""
    opts = opts or TakeOptions()
    plan = _plan(scene, obj, perf, opts, staged)
    own_staged = StagedFiles() if staged is None else None
    undo = _Undo(scene, plan.parts)
    try:
        for part, key_undo in zip(plan.parts, undo.keys):
            key_undo.rest.ensure(part.obj.name, part.rest, min(scene.frame_start, plan.first))
            _clear_active(plan, part, key_undo)
        placed = []
        for part, key_undo, under in zip(plan.parts, undo.keys, _under_keyed(plan)):
            action, slot = _write_action(plan, part, key_undo, under)
            placed.append((part, action, _place(plan, part, action, slot, key_undo)))
        strip, audio_path = _place_sound(plan, undo, staged or own_staged)
        if plan.last > scene.frame_end:
            scene.frame_end = plan.last
        for part, action, nla_strip in placed:
            _verify(plan, part, action, nla_strip)
        head_action, head_strip = placed[0][1], placed[0][2]
        result = TakeResult(action=head_action, strip=strip, frame_start=plan.start, frame_end=plan.end,
                            target_plan=plan.head.target_plan, audio_path=audio_path, warnings=plan.warnings,
                            take_name=plan.take, nla_strip=head_strip, ease_frames=plan.ease,
                            parts=[(part.obj.name, action, part.labels, "bones" if part.roles else "keys")
                                   for part, action, _ in placed],
                            notes=[_bones_note(part) for part in plan.parts if part.roles])
        if own_staged is not None:
            own_staged.commit()
            if strip is not None and audio_path:
                point_sound_at(strip.sound, audio_path)
        # last: it deletes the old take for good
        _retire_replaced_sound(plan, undo.sound)
        for i, (part, action, nla_strip) in enumerate(placed):
            nla_strip = _retire_replaced(plan, part, action, nla_strip)
            if i == 0:
                result.nla_strip = nla_strip
        if strip is not None:
            head_action["unitaf_sound_strip"] = strip.name
    except BaseException:   # includes KeyboardInterrupt: never leave half a take behind
        undo.rollback()
        if own_staged is not None:
            own_staged.restore()
        raise
    if own_staged is not None:
        own_staged.finish()
    return result


def save_blend(path) -> None:
    """Save the open file as `path`; take sounds inside its folder become relative (`//...`).

    Blender writes every save to `<path>@` and renames it, so a failed save never leaves a
    half-written .blend. The artist's own paths are left as they were."""
    path = os.path.abspath(os.fspath(path))
    if not path.lower().endswith(".blend"):
        raise TakeError(f"Output must be a .blend file, got {path}")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise TakeError(f"Folder {folder} does not exist.")
    # No .blend1 backup beside an output that is replaced: only the named file appears.
    prefs = bpy.context.preferences.filepaths
    versions = prefs.save_version
    prefs.save_version = 0
    try:
        bpy.ops.wm.save_as_mainfile(filepath=path, relative_remap=True)
        # Sounds written beside the output were absolute until the file had a location: make
        # them relative now, then write again.
        if relative_take_sounds(folder):
            bpy.ops.wm.save_mainfile()
    finally:
        prefs.save_version = versions
