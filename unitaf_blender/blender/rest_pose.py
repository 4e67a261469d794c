"""The rest layer: what a character's channels hold outside its takes.

Wherever no NLA strip plays, Blender gives an NLA-animated property its RNA default: 1.0 for
`ShapeKey.value` on 5.0, 0.0 on 4.2 and 5.2. Without help a face between two dialogue lines
would either explode (every key at 1.0) or lose the artist's rest values (JawOpen 0.089 on
the Live Link head). Of the three designs (keyed rest frames in every take, hold
extrapolation, a base layer) only a base layer gives *exactly* the artist's values on every
frame outside the takes, on every version, without changing a take's own keys:

* one rest action per animated datablock (`UniTAF_<object>_rest`, marked `unitaf_rest`):
  one key per channel UniTAF animates, at the value it had before UniTAF first keyed it (so
  re-generating never drifts the rest pose). It is also the value a take adds its motion to
  (see takes.py), so a sculpted resting offset (BrowDown 0.318) stays during the line;
* on the NLA track `UniTAF rest` as a strip with HOLD extrapolation, so it covers all time
  below every take.

Channels the artist's own animation drives (layers.py) are never held here: they are the
artist's, above or below this track, and a take eases in and out of them instead.
"""
import bpy

from . import compat, keying

REST_TRACK = "UniTAF rest"
REST_MARK = "unitaf_rest"


def find_rest_strip(key):
    """The rest layer's NLA strip on `key` (a shape-key datablock), or None."""
    ad = key.animation_data
    if ad is None:
        return None
    for track in ad.nla_tracks:
        for strip in track.strips:
            if strip.action is not None and strip.action.get(REST_MARK):
                return strip
    return None


def rest_values(id_block) -> dict:
    """{(data path, array index): rest value} stored in the rest layer (empty when none)."""
    strip = find_rest_strip(id_block)
    if strip is None:
        return {}
    return {(fc.data_path, fc.array_index): fc.keyframe_points[0].co[1]
            for fc in compat.action_fcurves(strip.action, compat.strip_slot(strip)) if len(fc.keyframe_points)}


def current_value(id_block, path, index):
    """The value of (path, index) on `id_block` now (what the rest layer captures)."""
    value = id_block.path_resolve(path)
    return float(value if isinstance(value, (int, float)) else value[index])


class Resting:
    """What each channel of `id_block` shows outside every take, whatever frame is current:
    the rest layer's value for a channel it holds, else the channel's value now. A channel
    the artist's own animation plays (in `artist`) is read now: it is the artist's, and the
    rest layer's old value (if any) no longer shows."""

    def __init__(self, id_block, artist=frozenset()):
        self.id_block, self.artist = id_block, artist
        self.stored = rest_values(id_block)

    def value(self, path, index) -> float:
        if (path, index) in self.stored and (path, index) not in self.artist:
            return float(self.stored[(path, index)])
        return current_value(self.id_block, path, index)


def planned_values(id_block, channels, artist) -> dict:
    """{(data path, index): rest value} for the `channels` the rest layer holds or will hold
    once a take keys them: those it already has keep their stored value, new ones their value
    now; channels in `artist` (the artist's own animation plays them) are left out. Reads only."""
    resting = Resting(id_block, artist)
    return {(path, index): resting.value(path, index) for path, index in channels if (path, index) not in artist}


class RestLayer:
    """Adds the rest values a take needs; `undo()` removes exactly what `ensure` added."""

    def __init__(self, id_block):
        self.key = id_block        # a shape-key datablock, or an armature object for bones
        self.made_action = None
        self.made_track = None
        self.added_fcurves = []     # F-curves added to an existing rest action

    def ensure(self, obj_name: str, values: dict, frame: int):
        """Make sure the rest layer holds every channel in `values` ({(data path, index):
        value}, from `planned_values`); channels it already holds keep their stored value."""
        key = self.key
        strip = find_rest_strip(key)
        if strip is None and not values:
            return      # the artist's own animation drives every channel: nothing to hold
        ad = key.animation_data or key.animation_data_create()
        if strip is None:
            action, slot = compat.new_action(f"UniTAF_{obj_name}_rest", key)
            action[REST_MARK] = True
            action.use_fake_user = False
            self.made_action = action
            track = ad.nla_tracks.new()
            track.name = REST_TRACK
            track.lock = True          # edited by UniTAF only; the artist sees it but cannot drag it
            self.made_track = track
            known = set()
        else:
            action, slot = strip.action, compat.strip_slot(strip)
            known = {(fc.data_path, fc.array_index) for fc in compat.action_fcurves(action, slot)}
        writer = compat.FCurveWriter(action, slot, keying.GROUP_NAME)
        start = int(action.frame_range[0]) if known else int(frame)
        for (path, index), value in values.items():
            if (path, index) in known:
                continue
            fc = writer.new(path, index)
            fc.keyframe_points.insert(start, value)
            if self.made_action is None:
                self.added_fcurves.append((action, slot, fc))
            known.add((path, index))
        if self.made_track is not None:
            action.use_frame_range = True
            action.frame_start, action.frame_end = start, start + 1
            rest_strip = compat.new_nla_strip(self.made_track, action.name, start, action, slot)
            rest_strip.extrapolation = 'HOLD'    # covers all time, before and after
            rest_strip.blend_type = 'REPLACE'

    def undo(self):
        ad = self.key.animation_data
        if self.made_track is not None and ad is not None:
            ad.nla_tracks.remove(self.made_track)
        if self.made_action is not None:
            bpy.data.actions.remove(self.made_action)
        for action, slot, fc in reversed(self.added_fcurves):
            compat.remove_fcurve(action, slot, fc)
        self.made_action = self.made_track = None
        self.added_fcurves = []
