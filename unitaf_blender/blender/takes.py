"""Apply a Performance to a mesh as one "take": a new shape-key action + a sound strip.

Public API used by the CLI and the operators. `apply_take` is atomic: on any failure it
removes everything it created and restores the previous animation, then re-raises.
"""
from dataclasses import dataclass, field
import json
import os
from typing import Optional

import numpy as np
import bpy

from ..core.retime import scene_fps
from . import compat, keying
from .mapping_store import object_mapping  # noqa: F401  (part of this module's API)
from .sound import SoundPlacement, wav_path_for

MIN_FRAME, MAX_FRAME = -1048574, 1048574   # Blender's MINAFRAME/MAXFRAME
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
    audio_dir: Optional[str] = None            # where WAVs go (default: beside the .blend)


@dataclass
class TakeResult:
    action: object
    strip: object                              # sound strip or None
    frame_start: int
    frame_end: int
    mapping: object                            # core.mapping.ShapeKeyMapping
    audio_path: Optional[str]
    warnings: list = field(default_factory=list)
    take_name: str = ""
    nla_strip: object = None


# --- validation ------------------------------------------------------------------------------

def _checked_mapping(obj):
    if obj is None:
        raise TakeError("No target object: pick a mesh with ARKit-style shape keys.")
    try:
        kind, name = obj.type, obj.name
    except ReferenceError:
        raise TakeError("The target object was deleted.") from None
    if kind != 'MESH':
        raise TakeError(f"'{name}' is a {kind.lower()} object, not a mesh: pick a mesh with shape keys.")
    key = obj.data.shape_keys
    if key is None or len(key.key_blocks) < 2:
        raise TakeError(f"'{name}' has no shape keys to animate: add ARKit-style shape keys "
                        "(e.g. jawOpen, eyeBlinkLeft) first.")
    mapping = object_mapping(obj)
    if not mapping.pairs:
        keys = [kb.name for kb in key.key_blocks[1:6]]
        raise TakeError(f"None of the {len(key.key_blocks) - 1} shape keys on '{name}' "
                        f"(e.g. {', '.join(keys)}) match an ARKit / Live Link channel. "
                        "Map them in the UniTAF panel (Mapping: preset or table).")
    return mapping


def validate_target(obj) -> None:
    """Raise TakeError when `obj` cannot receive a take (None, not a mesh, no usable keys)."""
    _checked_mapping(obj)


def _check_performance(perf):
    if perf is None or perf.n_frames == 0:
        raise TakeError("The performance has no face frames.")
    if not np.all(np.isfinite(perf.weights)):
        raise TakeError("The performance contains NaN or infinite values.")


def _unique_take(obj, wanted, audio_dir):
    def free(take):
        if f"UniTAF_{obj.name}_{take}" in bpy.data.actions:
            return False
        wav = wav_path_for(take, audio_dir)
        return wav is None or not os.path.exists(wav)
    if wanted:
        wanted = str(wanted).strip()
        if not wanted:
            raise TakeError("The take name is empty.")
        take, n = wanted, 1
        while not free(take):
            n += 1
            take = f"{wanted}_{n}"
        return take
    n = 1
    while not free(f"take{n}"):
        n += 1
    return f"take{n}"


def _prop_value(v):
    if isinstance(v, (bool, int, float, str)):
        return v
    return json.dumps(v, default=str)


# --- rollback --------------------------------------------------------------------------------

class _Undo:
    """Everything a take created or changed, so a failure can put the scene back."""

    def __init__(self, scene, key):
        self.scene, self.key = scene, key
        self.had_animdata = key.animation_data is not None
        self.prev_action, self.prev_slot = compat.assigned_action(key)
        self.prev_fake = self.prev_action.use_fake_user if self.prev_action else None
        self.frame_end = scene.frame_end
        self.action = None
        self.tracks = []
        self.nla_strips = []
        self.sound = SoundPlacement()

    def rollback(self):
        ad = self.key.animation_data
        if ad is not None:
            for track, strip in reversed(self.nla_strips):
                if track not in self.tracks:
                    track.strips.remove(strip)
            for track in reversed(self.tracks):
                ad.nla_tracks.remove(track)
            compat.assign_action(self.key, self.prev_action, self.prev_slot)
            if not self.had_animdata:
                self.key.animation_data_clear()
        if self.prev_action is not None:
            self.prev_action.use_fake_user = self.prev_fake
        if self.action is not None:
            bpy.data.actions.remove(self.action)
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


def _push_previous(ad, action, slot, undo):
    """Like Blender's Push Down: the previous action keeps playing from its own NLA track."""
    track = ad.nla_tracks.new()
    track.name = action.name
    undo.tracks.append(track)
    start = int(round(action.frame_range[0]))
    strip = compat.new_nla_strip(track, action.name, start, action, slot)
    undo.nla_strips.append((track, strip))


# --- the take --------------------------------------------------------------------------------

def apply_take(scene, obj, perf, opts: Optional[TakeOptions] = None) -> TakeResult:
    opts = opts or TakeOptions()
    mapping = _checked_mapping(obj)
    _check_performance(perf)
    try:
        intensity = keying.validate_intensity(opts.intensity)
    except ValueError as e:
        raise TakeError(str(e)) from None
    if opts.interpolation not in keying.INTERPOLATIONS:
        raise TakeError(f"Interpolation must be one of {', '.join(keying.INTERPOLATIONS)}, "
                        f"got {opts.interpolation!r}.")
    if int(opts.smoothing) < 0:
        raise TakeError("Smoothing must be >= 0 frames.")
    key = obj.data.shape_keys
    if key.animation_data is not None and key.animation_data.use_tweak_mode:
        raise TakeError(f"The shape keys of '{obj.name}' are in NLA tweak mode: "
                        "exit it (Tab in the NLA editor) first.")
    fps = scene_fps(scene.render.fps, scene.render.fps_base)
    start = scene.frame_current if opts.start_frame is None else int(opts.start_frame)

    warnings = []
    pairs, seen = {}, {}
    for ch, key_name in mapping.pairs.items():
        if key_name in seen:
            warnings.append(f"'{ch}' and '{seen[key_name]}' both map to '{key_name}'; using '{seen[key_name]}'.")
            continue
        seen[key_name] = ch
        pairs[ch] = key_name
    n, tracks = keying.prepare_tracks(perf, pairs, key.key_blocks, fps, intensity, int(opts.smoothing))
    if not tracks:
        raise TakeError(f"The performance has none of the channels mapped on '{obj.name}' "
                        f"(performance channels: {', '.join(perf.channels[:5])}...).")
    end = start + n - 1
    if start < MIN_FRAME or end > MAX_FRAME:
        raise TakeError(f"The take would span frames {start}-{end}, outside Blender's range.")
    take = _unique_take(obj, opts.take_name, opts.audio_dir)

    undo = _Undo(scene, key)
    try:
        action, slot = compat.new_action(f"UniTAF_{obj.name}_{take}", key)
        undo.action = action
        keying.write_tracks(action, slot, start, tracks, opts.interpolation)
        action.use_frame_range = True
        action.frame_start, action.frame_end = start, max(end, start + 1)
        meta = perf.meta or {}
        action["unitaf_take"] = take
        action["unitaf_bake_fps"] = float(fps)
        action["unitaf_source_fps"] = float(perf.fps)
        for name in ("engine", "text", "emotion", "seed"):
            if meta.get(name) is not None:
                action[f"unitaf_{name}"] = _prop_value(meta[name])

        prev = undo.prev_action
        if prev is not None:
            prev.use_fake_user = True   # never lose the artist's action
        nla_strip = None
        if opts.push_to_nla:
            ad = key.animation_data or key.animation_data_create()
            if prev is not None:
                _push_previous(ad, prev, undo.prev_slot, undo)
            compat.assign_action(key, None)
            track = _take_track(ad, start, end, undo)
            nla_strip = compat.new_nla_strip(track, action.name, start, action, slot)
            nla_strip.extrapolation = 'NOTHING'   # the take only plays over its own frames
            undo.nla_strips.append((track, nla_strip))
        else:
            compat.assign_action(key, action, slot)
            if prev is not None:
                warnings.append(f"Previous action '{prev.name}' was kept (fake user).")

        strip, audio_path = None, None
        if opts.add_sound:
            if len(perf.audio) == 0:
                warnings.append("The performance has no audio: no sound strip was added.")
            elif not compat.has_audio():
                warnings.append("This Blender build has no audio support (Audaspace): no sound strip was added.")
            else:
                strip = undo.sound.place(scene, take, perf.audio, perf.sample_rate, start, fps,
                                         opts.audio_dir)
                audio_path = undo.sound.wav_path
        if end > scene.frame_end:
            scene.frame_end = end
        unmapped = [c for c in perf.channels if c not in pairs]
        if unmapped:
            warnings.append(f"{len(unmapped)} performance channel(s) have no shape key on "
                            f"'{obj.name}': {', '.join(unmapped[:8])}{'...' if len(unmapped) > 8 else ''}")
        return TakeResult(action=action, strip=strip, frame_start=start, frame_end=end, mapping=mapping,
                          audio_path=audio_path, warnings=warnings, take_name=take, nla_strip=nla_strip)
    except BaseException:   # includes KeyboardInterrupt: never leave half a take behind
        undo.rollback()
        raise


def save_blend(path) -> None:
    """Save the open file as `path`, with external paths made relative to it."""
    path = os.path.abspath(os.fspath(path))
    if not path.lower().endswith(".blend"):
        raise TakeError(f"Output must be a .blend file, got {path}")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise TakeError(f"Folder {folder} does not exist.")
    bpy.ops.wm.save_as_mainfile(filepath=path, relative_remap=True)
    # Paths that were absolute stay absolute after save_as; make them relative now that the
    # file has a location, then write again without leaving a .blend1 backup behind.
    bpy.ops.file.make_paths_relative()
    prefs = bpy.context.preferences.filepaths
    versions = prefs.save_version
    prefs.save_version = 0
    try:
        bpy.ops.wm.save_mainfile()
    finally:
        prefs.save_version = versions
