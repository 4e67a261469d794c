"""The engines: their contract (contract.py), their declared options (option_schema.py) and
downloads (assets.py), the registry (registry.py) and the one request path every front end
takes (request_path.py). The engines offered in this build are the lines at the end."""
from .contract import (  # noqa: F401 - the package's face
    Cancelled,
    CheckedRequest,
    Engine,
    EngineError,
    EngineUnavailable,
    GenerateRequest,
    LipsyncRequest,
    ProgressFn,
    check_cancel,
    reporter,
)
from .registry import (  # noqa: F401
    default_engine_id,
    engine_class,
    engine_classes,
    get_engine,
    list_engines,
    register_engine,
    unregister_engine,
)

register_engine(
    "embedded", "Embedded (offline)",
    "natural English voice (hibari) or espeak-ng, a phoneme timeline driving a procedural face; no download, no GPU",
    ".embedded.engine", "EmbeddedEngine")
register_engine(
    "unitaf", "UniTAF (neural)",
    "IndexTTS2 speech in the voice of a clip + UniTAF face; needs PyTorch and the model download (GPU advised)",
    ".unitaf.engine", "UniTAFEngine")
