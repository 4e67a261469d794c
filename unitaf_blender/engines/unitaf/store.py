"""UniTAF's model store: the shared store (engines/model_store.py) bound to UniTAF's catalogue
(catalog.py), its features and its wording. Cache mode, model-dir mode, integrity checks and
downloads are described there."""
from __future__ import annotations

from typing import Iterable, Optional

from .. import model_store
from ..model_files import ModelFile
from ..model_store import FileStatus, ModelsMissing, sha256_file
from .catalog import DEFAULT_FEATURES, FEATURES, MODEL_FILES

__all__ = ["ModelStore", "ModelsMissing", "FileStatus", "build_model_dir", "sha256_file"]

TITLE = "UniTAF model"
DOWNLOAD_HINT = "get them with 'Download models' (add-on preferences) or the CLI command `models download`"


class ModelStore(model_store.ModelStore):
    def __init__(self, cache_dir=None, model_dir=None, files: Iterable[ModelFile] = MODEL_FILES,
                 endpoint: Optional[str] = None):
        super().__init__(cache_dir, model_dir, files, endpoint, features=FEATURES,
                         default_features=DEFAULT_FEATURES, title=TITLE, download_hint=DOWNLOAD_HINT)


def build_model_dir(model_dir, sources: dict, files: Iterable[ModelFile] = MODEL_FILES, copy: bool = False) -> str:
    """A UniTAF model folder from existing files (see model_store.build_model_dir)."""
    return model_store.build_model_dir(model_dir, sources, files, copy)
