"""What an engine can download or install, as the engine declares it (`Engine.assets(options)`):
model files fetched through the shared model store (model_store.py), and a runtime installed
into a folder. The panel's preferences and the CLI's `models`, `voices download` and
`install-runtime` find them here by id (`find_assets`), never through an engine's store,
catalogue or installer.
"""
from dataclasses import dataclass
from typing import Callable, Optional

from .model_files import human_size
from .model_store import ModelStore, download_size
from .registry import engine_classes


@dataclass
class ModelFiles:
    """Model files an engine downloads: each with its size, licence and status (the store's)."""
    id: str                      # "models" (the UniTAF weights), "voices" (the natural voices)
    label: str                   # "UniTAF models"
    store: ModelStore            # lookup, status, sizes, licences, downloads (sha256-checked)
    features: tuple              # what a bare status or download covers
    warnings: tuple = ()         # (repository, sentence): shown before downloading that repository's files
    voice_feature: Optional[Callable[[str], Optional[str]]] = None   # voices: the feature a voice id needs

    def missing(self, features=None) -> list:
        """The files of `features` (default: this group's) the engine cannot run without."""
        return self.store.missing(self.features if features is None else features)

    def listing(self, missing) -> list:
        """The lines shown before a download: the total, each file with its size and licence,
        the warnings of their repositories. [] when nothing is missing."""
        if not missing:
            return []
        lines = [f"{len(missing)} file(s), {human_size(download_size(missing))} in total, into "
                 f"{self.store.cache_dir}"]
        lines += [f"{st.spec.display} ({human_size(st.spec.expected_size)}) - licence: {st.spec.licence}"
                  for st in missing]
        repos = {st.spec.repo_id for st in missing}
        lines += [f"WARNING: {sentence}" for repo, sentence in self.warnings if repo in repos]
        lines.append("By downloading you accept each licence above.")
        return lines

    def download(self, features=None, progress=None, cancel=None, allow_network=True) -> list:
        return self.store.download(self.features if features is None else features, progress, cancel,
                                   allow_network=allow_network)


@dataclass
class Runtime:
    """A runtime an engine installs into a folder with pip (PyTorch for the UniTAF engine).
    `installer` is the module that does it (build_commands, install, installed_info, activate,
    FLAVOURS); it is read when called, so the installer stays the one place of each fact."""
    id: str                      # "runtime"
    label: str                   # "Neural runtime (PyTorch)"
    name: str                    # "PyTorch"
    module: str                  # the module it makes importable ("torch"); its version in installed() too
    installer: object
    flavour_choices: Callable[[], tuple]   # option_schema.Choice: cpu, cuda, ...; built when asked
    packages: str                # what pip installs, in words

    @property
    def flavours(self) -> tuple:
        """The flavours to choose from (described by the engine, e.g. from its lock, on each call)."""
        return self.flavour_choices()

    def commands(self, folder, flavour) -> list:
        """[(pip command, requirement lines)]: one pip run per index of the locked runtime."""
        return self.installer.build_commands(folder, flavour)

    def install(self, folder, flavour, progress=None, cancel=None, allow_network=True) -> dict:
        return self.installer.install(folder, flavour, progress, cancel, allow_network=allow_network)

    def installed(self, folder) -> Optional[dict]:
        return self.installer.installed_info(folder)

    def activate(self, folder) -> bool:
        return self.installer.activate(folder)


def all_assets(options: Optional[dict] = None) -> list:
    """[(engine id, ModelFiles or Runtime)] every engine declares, in registry order."""
    return [(engine_id, group) for engine_id, cls in engine_classes() for group in cls().assets(options)]


def find_assets(asset_id: str, options: Optional[dict] = None):
    """The first declared asset group with this id, or None."""
    return next((group for _, group in all_assets(options) if group.id == asset_id), None)
