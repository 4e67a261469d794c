"""The "UniTAF" tab in the 3D Viewport sidebar (N panel) and the add-on preferences. What an
engine offers (its voice input, an emotion mix, its options) is drawn from its declaration."""
import bpy
from bpy.props import EnumProperty, StringProperty

from ...core.performance import EMOTIONS
from ...engines import EngineError
from ...engines.auto_emotion import DEVICE
from ...engines.option_schema import CACHE_DIR, MODEL_DIR
from .. import character, mapping_store
from . import engine_setup, jobs, voice_setup
from .engine_options import draw_options, panel_options
from .scene_settings import engine_items
from .settings import active_engine, active_sound_strip, preferences, target_object
from .sidebar import Sidebar, SidebarSection

_report_cache = {}   # (object, keys, stored pairs) -> (report lines, missing shapes)


def _mapping_report(obj):
    key = (obj.name, tuple(mapping_store.shape_key_names(obj)),
           tuple(sorted(mapping_store.stored_pairs(obj).items())) if mapping_store.has_stored_mapping(obj) else None)
    if key not in _report_cache:
        if len(_report_cache) > 32:
            _report_cache.clear()
        target_plan = mapping_store.object_plan(obj)
        _report_cache[key] = (target_plan.report().splitlines(), mapping_store.missing_shapes(obj))
    return _report_cache[key]


class UNITAF_PT_main(Sidebar, bpy.types.Panel):
    bl_idname = "UNITAF_PT_main"
    bl_label = "UniTAF"

    def draw(self, context):
        layout = self.layout
        s = context.scene.unitaf
        col = layout.column()
        col.prop(s, "text_block")
        if s.text_block is None:
            col.prop(s, "text", text="")
        col.prop(s, "engine")
        try:
            engine_id, engine = active_engine(context)
        except EngineError as e:
            col.label(text=str(e), icon='ERROR')
            engine_id = engine = None
        mix = engine is not None and engine.emotion_mix
        if mix:
            col.prop(s, "emotion_mode", expand=True)
        if not mix or s.emotion_mode == "PRESET":
            row = col.row(align=True)
            row.prop(s, "emotion", text="")
            sub = row.row(align=True)
            sub.enabled = s.emotion != "neutral"
            sub.prop(s, "emotion_intensity", slider=True)
        else:
            grid = col.grid_flow(columns=2, align=True)
            for i, name in enumerate(EMOTIONS):
                grid.prop(s, "emotion_vector", index=i, text=name.capitalize(), slider=True)
            row = col.row(align=True)
            row.prop(s, "emotion", text="")
            row.operator("unitaf.emotion_from_preset", text="Set from Preset")
        if engine is not None:
            draw_options(col, context, engine_id, engine, "emotion", preferences(context))
            _draw_voice(col, context, engine.voice_input)
        col.separator()
        col.prop(s, "target")
        obj = target_object(context)
        if s.target is None:
            col.label(text=f"Using active {obj.type.lower()}: {obj.name}" if obj
                      else "Select a face mesh (shape keys) or its armature",
                      icon='INFO')
        row = col.row(align=True)
        row.prop(s, "use_current_frame", text="Current Frame")
        sub = row.row(align=True)
        sub.enabled = not s.use_current_frame
        sub.prop(s, "start_frame", text="")
        col.prop(s, "seed")
        col.separator()

        job = jobs.current()
        if job is not None and not job.finished:
            label = getattr(job, "label", "Generate")
            text = job.stage if label == "Generate" else f"{label}: {job.stage}"
            layout.progress(text=text, factor=job.progress, type='BAR')
            layout.operator("unitaf.cancel", icon='CANCEL')
        else:
            layout.operator("unitaf.generate", icon='PLAY_SOUND')
            _draw_animate_from_audio(layout.box(), context)
            layout.operator("unitaf.import_performance", icon='IMPORT')
            if job is not None and job.state == jobs.FAILED and job.error:
                box = layout.box()
                for line in job.error.splitlines()[:4]:
                    box.label(text=line, icon='ERROR')
                if getattr(job, "fallback_device", None):
                    box.operator("unitaf.retry_on_fallback", text=f"Retry on {job.fallback_device.upper()}",
                                 icon='FILE_REFRESH')


def _draw_voice(col, context, voice_input):
    """The voice as the engine takes it: a clip to imitate, or an id (with a download when the
    chosen voice must be fetched first)."""
    s = context.scene.unitaf
    if voice_input.kind == "clip":
        col.prop(s, "voice_clip", text=voice_input.label)
        if not s.voice_clip and voice_input.empty:
            col.label(text=voice_input.empty, icon='INFO')
        return
    col.prop(s, "voice", text=voice_input.label)
    missing = voice_setup.missing_voice(context)
    if missing:
        col.operator("unitaf.download_voice", icon='URL').name = missing


def _draw_animate_from_audio(box, context):
    s = context.scene.unitaf
    box.label(text="Animate from Audio", icon='SOUND')
    box.prop(s, "lipsync_audio", text="")
    if not s.lipsync_audio:
        strip = active_sound_strip(context)
        box.label(text=f"Active strip: {strip.name}" if strip else "No recording: pick a file or a sound strip",
                  icon='INFO')
    box.prop(s, "lipsync_use_text")
    if not s.lipsync_use_text:
        box.label(text="Mouth from the sound alone: less accurate", icon='ERROR')
    box.operator("unitaf.lipsync", icon='PLAY_SOUND')


class UNITAF_PT_engine_options(SidebarSection, bpy.types.Panel):
    """The options the active engine declares for its sub-panel (engine_options.py)."""
    bl_idname = "UNITAF_PT_engine_options"
    bl_label = "Engine Options"

    @classmethod
    def poll(cls, context):
        try:
            return bool(panel_options(active_engine(context)[1], "engine"))
        except EngineError:
            return False

    def draw(self, context):
        engine_id, engine = active_engine(context)
        col = self.layout.column()
        draw_options(col, context, engine_id, engine, "engine", preferences(context))
        row = col.row(align=True)
        row.operator("unitaf.check_engine", icon='CHECKMARK')
        row.operator("unitaf.release_models", icon='TRASH')


class UNITAF_UL_mapping(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        obj = target_object(context)
        row = layout.row(align=True)
        row.label(text=item.channel)
        key = obj.data.shape_keys if obj is not None else None
        if key is not None:
            row.prop_search(item, "shape_key", key, "key_blocks", text="")
        else:
            row.prop(item, "shape_key", text="")


class UNITAF_PT_mapping(SidebarSection, bpy.types.Panel):
    bl_idname = "UNITAF_PT_mapping"
    bl_label = "Shape-Key Mapping"

    def draw(self, context):
        layout = self.layout
        obj = target_object(context)
        if obj is None or obj.type != 'MESH' or obj.data.shape_keys is None:
            layout.label(text="The target has no shape keys", icon='INFO')
            return
        row = layout.row(align=True)
        row.operator_menu_enum("unitaf.mapping_preset", "preset", text="Apply Preset")
        row = layout.row(align=True)
        row.operator("unitaf.mapping_auto")
        row.operator("unitaf.mapping_clear")
        # Drawing must not create the table on the object (that would change the file):
        # only a stored table is shown.
        if mapping_store.has_stored_mapping(obj):
            table = obj.unitaf_mapping
            if table.preset:
                layout.label(text=f"Preset: {table.preset}")
            layout.template_list("UNITAF_UL_mapping", "", table, "rows", table, "active_index", rows=6)
        else:
            layout.label(text="Automatic matching (no stored table)")
        others = character.candidates(obj)
        if others:
            box = layout.box()
            box.label(text="Keyed with it (same rig):")
            for other in others:
                box.prop(other, "unitaf_skip", text=f"Skip {other.name}")
        lines, missing = _mapping_report(obj)
        box = layout.box()
        for line in lines:
            box.label(text=line)
        if missing:
            box.label(text=f"Missing shapes: {', '.join(missing[:6])}", icon='ERROR')


class UNITAF_PT_keying(SidebarSection, bpy.types.Panel):
    bl_idname = "UNITAF_PT_keying"
    bl_label = "Keying Options"

    def draw(self, context):
        s = context.scene.unitaf
        col = self.layout.column()
        col.label(text="Intensity")
        grid = col.grid_flow(columns=2, align=True)
        for name in ("mouth", "brows", "eyes", "other"):
            grid.prop(s, f"intensity_{name}")
        col.prop(s, "smoothing")
        col.prop(s, "interpolation")
        col.prop(s, "push_to_nla")
        col.prop(s, "add_sound")
        col.prop(s, "word_markers")


class UNITAF_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = __package__  # replaced at register() by the top-level add-on id

    cache_dir: StringProperty(name=CACHE_DIR.label, subtype='DIR_PATH', description=CACHE_DIR.help.capitalize())
    model_dir: StringProperty(name=MODEL_DIR.label, subtype='DIR_PATH', description=MODEL_DIR.help.capitalize())
    device: EnumProperty(name="Device", default=DEVICE.default.upper(),
                         items=[(c.value.upper(), c.label, c.help) for c in DEVICE.choices])
    default_engine: EnumProperty(name="Default Engine", items=engine_items)

    def draw(self, context):
        col = self.layout.column()
        col.prop(self, "default_engine")
        col.prop(self, "device")
        engine_setup.draw_preferences(self, context, self.layout)   # cheap: no torch import


CLASSES = (UNITAF_PT_main, UNITAF_PT_engine_options, UNITAF_UL_mapping, UNITAF_PT_mapping, UNITAF_PT_keying)
