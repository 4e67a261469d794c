"""Each engine's declared options (engines/option_schema.py) as scene properties, drawn and read
from the declaration: no engine is named here.

At registration every registered engine gets a property group of the options it shows in the
panel (`scene.unitaf_options.<engine id>.<option>`), saved in the .blend. A choice is an enum
whose identifiers are the choice in upper case; an option the add-on preferences hold (the
device) gets "Preferences" as its first choice, which sends the preferences' value. The values
become the raw request's options (settings.py), which the request path checks like any other.
"""

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from ...engines import engine_classes
from .scene_settings import REL_PATH, absolute_path

FROM_PREFERENCES = "PREFS"
_registered = []     # the generated classes, container last


def _property(option):
    """The Blender property of one option."""
    common = dict(name=option.label, description=option.help[:1].upper() + option.help[1:])
    if option.kind == "choice":
        items = [(c.value.upper(), c.label, c.help) for c in option.choices]
        default = str(option.default).upper()
        if option.preference:
            items.insert(0, (FROM_PREFERENCES, "Preferences", f"The {option.label.lower()} chosen in the add-on "
                                                              "preferences"))
            default = FROM_PREFERENCES
        return EnumProperty(items=items, default=default, **common)
    if option.kind in ("number", "integer"):
        kind = FloatProperty if option.kind == "number" else IntProperty
        bounds = {k: v for k, v in (("min", option.minimum), ("max", option.maximum)) if v is not None}
        return kind(default=option.default or 0, **bounds, **common)
    if option.kind == "flag":
        return BoolProperty(default=bool(option.default), **common)
    subtype = {"file": 'FILE_PATH', "folder": 'DIR_PATH'}.get(option.kind, 'NONE')
    return StringProperty(default=option.default or "", subtype=subtype,
                          options=REL_PATH if subtype != 'NONE' else set(), **common)


def panel_options(engine_cls, place=None):
    """The options the panel shows for this engine class (only those of one place if given)."""
    return [o for o in engine_cls.options if o.panel and (place is None or o.panel == place)]


def register_engine_options():
    """One property group per registered engine, from its declared options, under
    `Scene.unitaf_options`."""
    unregister_engine_options()
    groups = {}
    for engine_id, cls in engine_classes():
        group = type(f"UNITAF_PG_options_{engine_id}", (bpy.types.PropertyGroup,),
                     {"__annotations__": {o.name: _property(o) for o in panel_options(cls)}})
        bpy.utils.register_class(group)
        _registered.append(group)
        groups[engine_id] = PointerProperty(type=group)
    container = type("UNITAF_PG_engine_options", (bpy.types.PropertyGroup,), {"__annotations__": groups})
    bpy.utils.register_class(container)
    _registered.append(container)
    bpy.types.Scene.unitaf_options = PointerProperty(type=container)


def unregister_engine_options():
    if hasattr(bpy.types.Scene, "unitaf_options"):
        del bpy.types.Scene.unitaf_options
    while _registered:
        bpy.utils.unregister_class(_registered.pop())


def option_group(context, engine_id):
    """The scene's property group of an engine's options (None when it has none)."""
    container = getattr(context.scene, "unitaf_options", None)
    return getattr(container, engine_id, None) if container is not None else None


def draw_options(layout, context, engine_id, engine_cls, place, preferences=None):
    """The engine's options of one place, each as its property; an option left to the
    preferences says what the preferences hold."""
    group = option_group(context, engine_id)
    if group is None:
        return
    for option in panel_options(engine_cls, place):
        layout.prop(group, option.name)
        if option.preference and getattr(group, option.name) == FROM_PREFERENCES:
            held = getattr(preferences, option.name, None) if preferences is not None else None
            layout.label(text=f"Preferences {option.label.lower()}: {str(held or option.default).capitalize()}")


def option_values(context, engine_id, engine_cls, preferences=None) -> dict:
    """The raw request's options from the panel: the preferences' values of the options they hold
    (the model folders when set, the device), then the engine's panel options (a file only when
    given, made absolute; a choice left to the preferences keeps their value)."""
    from ...engines.request_path import options_of
    values = {}
    for option in options_of(engine_cls):
        held = getattr(preferences, option.name, None) if option.preference and preferences is not None else None
        if held:
            values[option.name] = absolute_path(held) if option.kind in ("file", "folder") else str(held).lower()
    group = option_group(context, engine_id)
    for option in panel_options(engine_cls) if group is not None else ():
        value = getattr(group, option.name)
        if option.kind == "choice":
            if value != FROM_PREFERENCES:
                values[option.name] = value.lower()
        elif option.kind in ("file", "folder"):
            if value.strip():
                values[option.name] = absolute_path(value)
        else:
            values[option.name] = value
    return values
