"""What the user gave a scene command, read and checked: the options that need no file, the
.blend and its target object, the text, transcript and recording, pose maps, and the engine
option values (`--option NAME=VALUE` and its aliases). Every problem is a BadInput."""
import math
import os

from ..core.channels import GROUPS
from ..core.errors import first_line
from .errors import BadInput
from .parser import OPTION_FLAGS


def parse_intensity(items):
    out = {g: 1.0 for g in GROUPS}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in out:
            raise BadInput(f"--intensity expects GROUP=VALUE with GROUP in {', '.join(GROUPS)}, got '{item}'")
        try:
            out[name] = float(value)
        except ValueError:
            raise BadInput(f"--intensity {name}: '{value}' is not a number") from None
        if not math.isfinite(out[name]) or out[name] < 0:
            raise BadInput(f"--intensity {name}: must be a finite number >= 0, got '{value}'")
    return out


_MAX_SEED = 2 ** 31 - 1    # the panel's Seed (a Blender int property) reaches this too


def check_arguments(args):
    """Every option that needs no file and no scene, checked before anything is opened or
    generated: the start frame, smoothing, intensities, take name, emotion, gap."""
    from ..blender.takes import MAX_FRAME, MAX_SMOOTHING, MIN_FRAME
    frame = getattr(args, "frame", None)
    if frame is not None and not MIN_FRAME <= frame <= MAX_FRAME:
        raise BadInput(f"--frame {frame} is outside Blender's frame range {MIN_FRAME}..{MAX_FRAME}")
    smoothing = getattr(args, "smoothing", 0)
    if not 0 <= smoothing <= MAX_SMOOTHING:
        raise BadInput(f"--smoothing must be 0..{MAX_SMOOTHING} frames, got {smoothing}")
    parse_intensity(getattr(args, "intensity", []))
    take = getattr(args, "take", None)
    if take is not None and not take.strip():
        raise BadInput("--take is empty: give the take a name, or leave the option out (take1, take2, ...)")
    emotion = getattr(args, "emotion", None)
    if emotion is not None and not emotion.strip():
        raise BadInput("--emotion is empty: give NAME[:INTENSITY] (e.g. calm:0.5), 8 weights, neutral or auto, "
                       "or leave the option out")
    gap = getattr(args, "gap", None)
    if gap is not None and not (math.isfinite(gap) and gap >= 0):
        raise BadInput(f"--gap must be a number of seconds >= 0, got {gap}")
    seed = getattr(args, "seed", 0)
    if not 0 <= seed <= _MAX_SEED:
        raise BadInput(f"--seed must be 0..{_MAX_SEED}, got {seed}")


def read_pose_maps(paths):
    from ..core.pose_map import PoseMapError, load_pose_map
    try:
        return tuple(load_pose_map(path) for path in paths)
    except PoseMapError as e:
        raise BadInput(f"--poses: {e}") from None


def check_poses(obj, pose_maps):
    """The pose maps given fit `obj`'s character (their actions exist and key its bones)."""
    from ..blender.takes import validate_target
    if pose_maps:
        validate_target(obj, pose_maps)


def take_options(args, **overrides):
    from ..blender.takes import TakeOptions, check_take_options
    from .outputs import audio_dir_for
    opts = dict(start_frame=args.frame, intensity=parse_intensity(args.intensity),
                smoothing=args.smoothing, interpolation=args.interpolation,
                push_to_nla=args.nla, take_name=args.take, add_sound=not args.no_sound,
                audio_dir=audio_dir_for(args.save), word_markers=not args.no_markers,
                pose_maps=read_pose_maps(args.poses))
    opts.update(overrides)
    options = TakeOptions(**opts)
    check_take_options(options)
    return options


def open_blend(args):
    import bpy
    if getattr(args, "blend", None):
        if not os.path.isfile(args.blend):
            raise BadInput(f"--blend: file not found: {args.blend}")
        try:
            bpy.ops.wm.open_mainfile(filepath=os.path.abspath(args.blend), load_ui=False)
        except RuntimeError as e:
            raise BadInput(f"--blend: cannot open {args.blend}: {first_line(e)}") from None
    refuse_newer_file(bpy)
    return bpy.context.scene


def refuse_newer_file(bpy):
    """A file saved by a newer Blender opens with "expect loss of data": refuse it rather
    than save a damaged copy."""
    saved, running = tuple(bpy.data.version[:2]), tuple(bpy.app.version[:2])
    if bpy.data.filepath and saved > running:
        raise BadInput(
            f"{bpy.data.filepath} was saved by Blender {saved[0]}.{saved[1]}, newer than this Blender "
            f"{bpy.app.version_string}: opening it here could lose data, so nothing was done. "
            f"Use Blender {saved[0]}.{saved[1]} or newer.")


def find_object(name):
    import bpy

    from ..blender.takes import validate_target
    obj = bpy.data.objects.get(name)
    if obj is None:
        meshes = sorted(o.name for o in bpy.data.objects
                        if o.type == "MESH" and getattr(o.data, "shape_keys", None))
        hint = f" Meshes with shape keys: {', '.join(meshes)}." if meshes else " The scene has no mesh with shape keys."
        raise BadInput(f"no object named '{name}'.{hint}")
    validate_target(obj)
    return obj


def read_text(text=None, text_file=None, text_block=None, what="the text"):
    """The text from the option that was given: inline, a UTF-8 file or a Text datablock."""
    if text is None and text_file is not None:
        if not os.path.isfile(text_file):
            raise BadInput(f"{what}: file not found: {text_file}")
        try:
            with open(text_file, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise BadInput(f"{what}: cannot read {text_file}: {e}") from None
    elif text is None:
        import bpy
        block = bpy.data.texts.get(text_block)
        if block is None:
            raise BadInput(f"{what}: no Text datablock named '{text_block}'")
        text = block.as_string()
    if not text.strip():
        raise BadInput(f"{what} is empty")
    return text


def read_transcript(args):
    """The lipsync transcript (None: the signal-only mode)."""
    if args.transcript is None and args.transcript_file is None and args.text_block is None:
        return None
    return read_text(args.transcript, args.transcript_file, args.text_block, what="the transcript")


def strip_file(strip):
    """[(what, path)] of the file a sound strip plays (an input of `lipsync --strip`)."""
    import bpy
    sound = getattr(strip, "sound", None)
    if sound is None or not sound.filepath or sound.packed_file is not None:
        return []
    path = os.path.abspath(bpy.path.abspath(sound.filepath))
    return [(f"sound of the strip '{strip.name}'", path)] if os.path.exists(path) else []


def check_span(scene, start, seconds):
    """A take of known length must fit Blender's frame range with the frames it eases in and
    out over (checked before generating, as the take checks it when keyed)."""
    from ..blender.takes import MAX_FRAME, MIN_FRAME, padded_span
    from ..core.retime import scene_fps
    fps = scene_fps(scene.render.fps, scene.render.fps_base)
    start = scene.frame_current if start is None else int(start)
    # the recording's length in whole frames, rounded up
    first, last, pad = padded_span(start, int(math.ceil(seconds * fps)) + 1, fps)
    span = f"the take would span frames {first}-{last} ({seconds:.1f} s, with {pad} frames to ease in and out)"
    if last > MAX_FRAME:
        raise BadInput(f"{span}, past Blender's last frame {MAX_FRAME}: start it earlier")
    if first < MIN_FRAME:
        raise BadInput(f"{span}, before Blender's first frame {MIN_FRAME}: start it later")


def option_values(args) -> dict:
    """The engine option values given on the command line: `--option NAME=VALUE` (repeatable) and
    the aliases (`--device`, ...); the request path checks them against the engine's options."""
    values = {}
    for item in getattr(args, "options", []) or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BadInput(f"--option expects NAME=VALUE, got '{item}'")
        values[name.strip()] = value.strip()
    for flag, option in OPTION_FLAGS:
        value = getattr(args, option.name, None)
        if value:
            if option.name in values:
                raise BadInput(f"{flag} and --option {option.name}=... both give the option {option.name}")
            values[option.name] = value
    return values
