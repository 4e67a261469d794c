"""The engines this build offers: id -> (label, description, module, class). Every front end finds
engines here (the panel's engine list, the CLI's `engines` and help, batch lines, the tests);
adding an engine is its own folder and one `register_engine` line (engines/__init__.py).

Modules are imported lazily so that a missing optional runtime (torch) never breaks the add-on
or the CLI; importing an engine's module must not import torch or onnxruntime (the CLI help
reads each engine's declared options).
"""
import importlib

from .contract import EngineUnavailable

_ENGINES = {}    # id -> (label, description, module path, class name), in registration order


def register_engine(engine_id, label, description, module, factory):
    """Offer an engine: `module` (absolute, or relative to this package) holds the class `factory`."""
    _ENGINES[engine_id] = (label, description, module, factory)


def unregister_engine(engine_id):
    _ENGINES.pop(engine_id, None)


def list_engines():
    """[(id, label, description)] in registration order (the first is the default)."""
    return [(k, v[0], v[1]) for k, v in _ENGINES.items()]


def default_engine_id():
    if not _ENGINES:
        raise EngineUnavailable("No engine is installed in this build of UniTAF for Blender.")
    return next(iter(_ENGINES))


def engine_class(engine_id=None):
    """The class of an engine by id (None = default); EngineUnavailable with a clear message."""
    engine_id = engine_id or default_engine_id()
    if engine_id not in _ENGINES:
        known = ", ".join(_ENGINES) or "none"
        raise EngineUnavailable(f"Unknown engine '{engine_id}' (installed: {known}).")
    label, _, module, factory = _ENGINES[engine_id]
    try:
        mod = importlib.import_module(module, __package__)
    except ImportError as e:
        raise EngineUnavailable(f"The {label} engine cannot load: {e}") from e
    return getattr(mod, factory)


def get_engine(engine_id=None):
    """An engine instance by id (None = default). Raises EngineUnavailable with a clear message."""
    return engine_class(engine_id)()


def engine_classes():
    """[(id, class)] of every engine whose module loads (those that cannot are left out)."""
    out = []
    for engine_id in _ENGINES:
        try:
            out.append((engine_id, engine_class(engine_id)))
        except EngineUnavailable:
            continue
    return out
