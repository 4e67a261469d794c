"""What the UniTAF engine can download and install (its `assets()`): the model weights, through
its model store and catalogue, and the neural runtime (PyTorch), through torch_install.py."""
from ..assets import ModelFiles, Runtime
from ..option_schema import Choice
from . import gpu_driver, runtime_lock, torch_install
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
    """The neural runtime; its flavours are described when asked (the lock is read then, not here)."""
    return Runtime("runtime", "Neural runtime (PyTorch)", "PyTorch", "torch", torch_install, flavour_choices,
                   f"PyTorch {torch_install.TORCH_VERSION} + PyYAML + huggingface_hub + Jinja2, locked with hashes, "
                   "via pip")


def flavour_choices() -> tuple:
    """The runtime's flavours, described as the lock has them for this computer."""
    where = runtime_lock.this_target()
    locked = runtime_lock.flavours_for(*where)
    macos = where[0].startswith("macos")

    def note(flavour):
        if macos and flavour != "cpu":
            return "; there is no CUDA PyTorch for macOS"
        return "" if flavour in locked else "; not locked for this computer yet (see the README)"

    cuda = torch_install.cuda_flavour_among(where[0], locked)
    if cuda:
        cuda_choice = Choice("cuda", "CUDA (recommended)", f"NVIDIA GPU: the {cuda} build (CUDA "
                             f"{gpu_driver.cuda_version(cuda)}), the one locked for this computer; about 2-3 GB")
    else:
        cuda_choice = Choice("cuda", "CUDA", "NVIDIA GPU" + note("cuda"))
    flavours = (Choice("cpu", "CPU", "Works everywhere (on macOS it uses Apple Metal); about 200 MB" + note("cpu")),
                cuda_choice)
    flavours += tuple(Choice(f, f"CUDA {gpu_driver.cuda_version(f)}",
                             f"NVIDIA GPU, the {f} build; needs NVIDIA driver "
                             f"{gpu_driver.written(gpu_driver.minimum(f))} or newer{note(f)}")
                      for f in torch_install.CUDA_FLAVOURS)
    return flavours
