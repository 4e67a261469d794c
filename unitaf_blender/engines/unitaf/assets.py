"""What the UniTAF engine can download and install (its `assets()`): the model weights, through
its model store and catalogue, and the neural runtime (PyTorch), through torch_install.py."""
from ..assets import ModelFiles, Runtime
from ..option_schema import Choice
from . import torch_install
from .catalog import DEFAULT_FEATURES
from .store import ModelStore

NON_COMMERCIAL_WARNING = ("MaskGCT's semantic codec (amphion/MaskGCT) is CC-BY-NC-4.0: "
                          "NON-COMMERCIAL use only. Do not use UniTAF output commercially.")


def model_files(options=None) -> ModelFiles:
    options = options or {}
    store = ModelStore(cache_dir=options.get("cache_dir"), model_dir=options.get("model_dir"))
    return ModelFiles("models", "UniTAF models", store, DEFAULT_FEATURES,
                      warnings=(("amphion/MaskGCT", NON_COMMERCIAL_WARNING),))


def runtime() -> Runtime:
    cuda = torch_install.DEFAULT_CUDA
    flavours = (Choice("cpu", "CPU", "Works everywhere (on macOS it uses Apple Metal); about 200 MB"),
                Choice("cuda", "CUDA (recommended)", f"NVIDIA GPU, CUDA {cuda[2:]} build; about 3 GB"))
    flavours += tuple(Choice(f, f"CUDA {f[2:4]}.{f[4:]}", f"NVIDIA GPU, the {f} build (pick the one your driver "
                                                       "supports)") for f in torch_install.CUDA_FLAVOURS)
    return Runtime("runtime", "Neural runtime (PyTorch)", "PyTorch", "torch", torch_install, flavours,
                   f"PyTorch {torch_install.TORCH_VERSION} + PyYAML + huggingface_hub + Jinja2, locked with hashes, "
                   "via pip")
