"""The artist's own animation under a take, on any animated datablock (a shape-key Key, an
armature object).

A datablock can already carry the artist's animation: an active action, NLA tracks, or both
(a glTF import puts its clip in both, the track muted). UniTAF's own actions are marked (a
take: `unitaf_take`, the rest layer: `unitaf_rest`); everything else is the artist's and keeps
playing outside every take:

* `artist_channels` lists what it plays: a take on shape keys replaces those channels for its
  length (a take on bones adds its motion to them) and eases in and out of them; the rest
  layer never holds them.
* The active action plays above the whole NLA, so a take could never show through it:
  `push_down` moves it onto an NLA track of its own, set to play exactly as it did (same
  frames at 1:1 time, extrapolation, blend type, influence).
"""
import math

from . import compat
from .rest_pose import REST_MARK

TAKE_MARK = "unitaf_take"
# Frames either side of 0 a cycling action is pushed down over: 55 minutes at 30 fps, where
# Blender's float strip time still resolves 1/128 frame.
EVERYWHERE = 100_000


def is_ours(action) -> bool:
    """True for a take's action or a rest action."""
    return action is not None and (action.get(TAKE_MARK) is not None or bool(action.get(REST_MARK)))


def _channels(action, slot):
    return {(fc.data_path, fc.array_index) for fc in compat.action_fcurves(action, slot)}


def artist_channels(id_block) -> set:
    """(data path, array index) pairs the artist's own actions on `id_block` play: its active
    action and its NLA strips. Muted tracks and strips play nothing (a channel only they
    animate shows its own value, which the rest layer then keeps)."""
    ad = id_block.animation_data
    if ad is None:
        return set()
    out = set()
    action, slot = compat.assigned_action(id_block)
    if action is not None and not is_ours(action):
        out |= _channels(action, slot)
    for track in ad.nla_tracks:
        if track.mute:
            continue
        for strip in track.strips:
            if strip.action is not None and not strip.mute and not is_ours(strip.action):
                out |= _channels(strip.action, compat.strip_slot(strip))
    return out


def _key_range(action, slot):
    """First and last key of the action's F-curves (what Blender plays an active action over)."""
    ranges = [fc.range() for fc in compat.action_fcurves(action, slot) if len(fc.keyframe_points)]
    if not ranges:
        start, end = action.frame_range
        return float(start), float(end)
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


def _has_modifiers(action, slot) -> bool:
    """A Cycles (or any) F-curve modifier: Blender plays such an active action at every frame,
    even with extrapolation Nothing."""
    return any(len(fc.modifiers) for fc in compat.action_fcurves(action, slot))


def _moves_beyond_keys(action, slot) -> bool:
    """True when a curve keeps changing past its keys (a modifier, linear extrapolation): a
    held strip end would freeze it."""
    return _has_modifiers(action, slot) or any(fc.extrapolation == 'LINEAR'
                                               for fc in compat.action_fcurves(action, slot))


def push_down(id_block, action, slot, cover):
    """Move the active `action` onto a new NLA track named after it; returns (track, strip).

    An active action that holds (Blender's default) is evaluated at every frame as it is:
    the strip maps frames 1:1 and spans its keys and every frame in `cover` (the scene's range
    and the take), holding both ends beyond; one whose curves keep moving past their keys
    (cycles) spans +-EVERYWHERE frames. One that plays only over its keys (extrapolation
    Nothing) spans exactly those, or +-EVERYWHERE with a modifier. The caller clears the
    active action."""
    ad = id_block.animation_data
    first, last = _key_range(action, slot)
    extrapolation = ad.action_extrapolation
    if extrapolation == 'NOTHING' and _has_modifiers(action, slot):
        first, last = -EVERYWHERE, EVERYWHERE
    elif extrapolation != 'NOTHING':
        extrapolation = 'HOLD'
        if _moves_beyond_keys(action, slot):
            cover = (*cover, -EVERYWHERE, EVERYWHERE)
        first = math.floor(min([first, *cover]))
        last = max(math.ceil(max([last, *cover])), first + 1)
    track = ad.nla_tracks.new()
    track.name = action.name
    strip = compat.new_nla_strip(track, action.name, int(math.floor(first)), action, slot)
    strip.use_sync_length = False        # keep the 1:1 mapping when the artist tweaks it
    strip.action_frame_end = max(last, strip.action_frame_start)   # each setter clamps to the other end
    strip.action_frame_start = first
    strip.action_frame_end = last
    strip.frame_start_ui = first         # moves the whole strip: frame f plays action time f
    strip.extrapolation = extrapolation
    strip.blend_type = ad.action_blend_type
    if ad.action_influence != 1.0:
        strip.influence = ad.action_influence
        strip.use_animated_influence = True
    return track, strip
