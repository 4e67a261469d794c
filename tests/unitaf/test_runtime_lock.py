"""The locked neural runtime against two local indexes (file://, PEP 503 pages; no network):
scripts/lock_runtime.py writes the lock (PyPI's own builds from PyPI alone; `--update` keeps the
rest), torch_install.install installs exactly it with pip, each section from its own index with
--require-hashes, refuses a changed file, and refuses a CUDA build the NVIDIA driver is too old
for (a stand-in nvidia-smi on PATH reports the driver)."""
import base64
import hashlib
import io
import json
import os
import pathlib
import stat
import sys
import zipfile

import pytest
from helpers import load_script

from shared_paths import ROOT
from unitaf_blender.engines import EngineError
from unitaf_blender.engines.unitaf import assets, gpu_driver, runtime_lock
from unitaf_blender.engines.unitaf import torch_install as nr

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="file:// index paths are POSIX here")


def _wheel(name: str, version: str, files: dict, requires=()) -> tuple:
    """(filename, bytes) of a minimal pure-Python wheel."""
    dist = f"{name.replace('-', '_')}-{version}"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    content = {**files, f"{dist}.dist-info/METADATA": meta,
               f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data.encode()).digest()).rstrip(b'=').decode()},"
                     f"{len(data.encode())}\n" for path, data in content.items())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, data in content.items():
            z.writestr(path, data)
        z.writestr(f"{dist}.dist-info/RECORD", record + f"{dist}.dist-info/RECORD,,\n")
    return f"{dist}-py3-none-any.whl", buf.getvalue()


def _index(root: pathlib.Path, wheels) -> str:
    """A static PEP 503 index of `wheels` ([(project, filename, bytes)]); returns its file:// URL."""
    projects = {}
    for project, filename, data in wheels:
        folder = root / project
        folder.mkdir(parents=True, exist_ok=True)
        (folder / filename).write_bytes(data)
        projects.setdefault(project, []).append((filename, hashlib.sha256(data).hexdigest()))
    for project, files in projects.items():
        links = "".join(f'<a href="{f.replace("+", "%2B")}#sha256={h}">{f}</a>\n' for f, h in files)
        (root / project / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    (root / "index.html").write_text("".join(f'<a href="{p}/">{p}</a>\n' for p in projects))
    return root.as_uri()


@pytest.fixture
def indexes(tmp_path):
    """torch (cpu flavour) on a PyTorch-like index; its dependency and our extra package on a
    PyPI-like one, which also offers a higher 'torch' that must never be taken."""
    torch_whl = _wheel("torch", "2.13.0+cpu", {"torch/__init__.py": "VERSION = 'locked'\n"}, ["fakedep>=1"])
    dep = _wheel("fakedep", "1.2", {"fakedep/__init__.py": ""})
    extra = _wheel("fakeyaml", "6.0.4", {"fakeyaml/__init__.py": ""})
    shadow = _wheel("torch", "9.9.9", {"torch/__init__.py": "VERSION = 'shadow'\n"})
    torch_root = _index(tmp_path / "torchidx" / "cpu", [("torch", *torch_whl)])
    pypi = _index(tmp_path / "pypi", [("fakedep", *dep), ("fakeyaml", *extra), ("torch", *shadow)])
    return tmp_path, torch_root.rsplit("/cpu", 1)[0], pypi


def _lock_script():
    return load_script(ROOT / "scripts" / "lock_runtime.py")


def _write_lock(tmp_path, torch_root, pypi) -> pathlib.Path:
    script = _lock_script()
    target, python = runtime_lock.this_target()
    if target not in script.TARGETS:
        pytest.skip(f"no lock target for {target}")
    out = tmp_path / "runtime.lock"
    assert script.main(["--flavours", "cpu", "--targets", target, "--pythons", python, "--torch-index", torch_root,
                        "--pypi-index", pypi, "--packages", "fakeyaml==6.0.4", "--out", str(out)]) == 0
    return out


def test_lock_names_each_package_with_its_index_and_hashes(indexes):
    tmp_path, torch_root, pypi = indexes
    lock = _write_lock(tmp_path, torch_root, pypi)
    target, python = runtime_lock.this_target()
    sections = runtime_lock.sections_for("cpu", target, python, str(lock))
    assert [s.index for s in sections] == [f"{torch_root}/cpu", pypi]          # torch's index first
    torch_lines, pypi_lines = (s.lines for s in sections)
    digest = hashlib.sha256((tmp_path / "torchidx" / "cpu" / "torch" / "torch-2.13.0+cpu-py3-none-any.whl")
                            .read_bytes()).hexdigest()
    assert torch_lines == [f"torch==2.13.0+cpu --hash=sha256:{digest}"]
    assert [line.split()[0] for line in pypi_lines] == ["fakedep==1.2", "fakeyaml==6.0.4"]   # no torch here
    assert runtime_lock.available(str(lock)) == [f"cpu {target} {python}"]
    assert runtime_lock.sections_for("cu126", target, python, str(lock)) == []


def test_install_takes_exactly_the_lock_from_each_index(indexes, monkeypatch):
    tmp_path, torch_root, pypi = indexes
    lock = _write_lock(tmp_path, torch_root, pypi)
    # a configured index or find-links must change nothing: the installer ignores pip's configuration
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "nowhere").as_uri())
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", pypi)
    target = tmp_path / "runtime"
    seen = []
    info = nr.install(target, "cpu", progress=lambda f, s: seen.append(f), lock=str(lock))
    assert info["lock"] == hashlib.sha256(lock.read_bytes()).hexdigest() and nr.installed_info(target)
    assert (target / "torch" / "__init__.py").read_text() == "VERSION = 'locked'\n"       # not the shadow
    assert (target / "fakedep").is_dir() and (target / "fakeyaml").is_dir()
    assert seen == sorted(seen) and seen[-1] == 1.0
    commands = nr.build_commands(tmp_path / "x", "cpu", lock=str(lock))
    for cmd, _ in commands:
        assert "--require-hashes" in cmd and "--no-deps" in cmd and "--isolated" in cmd
        assert "--extra-index-url" not in cmd and cmd.count("--index-url") == 1


def test_a_changed_file_is_refused_and_nothing_is_installed(indexes):
    tmp_path, torch_root, pypi = indexes
    lock = _write_lock(tmp_path, torch_root, pypi)
    _, changed = _wheel("fakedep", "1.2", {"fakedep/__init__.py": "print('changed')\n"})
    (tmp_path / "pypi" / "fakedep" / "fakedep-1.2-py3-none-any.whl").write_bytes(changed)
    target = tmp_path / "runtime"
    with pytest.raises(EngineError, match="does not match the sha256"):
        nr.install(target, "cpu", lock=str(lock))
    assert not target.exists() and not [p for p in os.listdir(tmp_path) if ".partial" in p]


def test_no_lock_for_a_flavour_or_platform_is_a_clear_refusal(tmp_path):
    lock = tmp_path / "runtime.lock"
    lock.write_text("[cpu linux-x86_64 cp311 https://example.invalid/cpu]\ntorch==2.13.0+cpu --hash=sha256:" + "0" * 64
                    + "\n")
    with pytest.raises(EngineError, match=r"No locked neural runtime for the 'cuda' flavour on linux-x86_64 with "
                                          r"Python 3.11; locked there: cpu\. To lock it, run `python "
                                          r"scripts/lock_runtime.py --update --flavours cu126 cu130 cu132 "
                                          r"--targets linux-x86_64 --pythons cp311`"):
        nr.build_commands(tmp_path / "x", "cuda", lock=str(lock), where=("linux-x86_64", "cp311"))
    with pytest.raises(EngineError, match=r"'cu126' flavour on linux-x86_64 with Python 3.13; linux-x86_64 is "
                                          r"locked for Python 3.11 only"):
        nr.build_commands(tmp_path / "x", "cu126", lock=str(lock), where=("linux-x86_64", "cp313"))
    with pytest.raises(EngineError, match=r"nothing is locked for windows-x86_64\..*--flavours cpu "
                                          r"--targets windows-x86_64 --pythons cp311` where pypi.org can be reached"):
        nr.build_commands(tmp_path / "x", "cpu", lock=str(lock), where=("windows-x86_64", "cp311"))
    with pytest.raises(EngineError, match="Unknown runtime flavour 'cu128'"):       # no 2.13.0 build of CUDA 12.8
        nr.build_commands(tmp_path / "x", "cu128", lock=str(lock), where=("linux-x86_64", "cp311"))
    with pytest.raises(EngineError, match="No locked neural runtime"):
        nr.install(tmp_path / "rt", "cpu", lock=str(tmp_path / "absent.lock"))
    assert not (tmp_path / "rt").exists()
    for bad in ("torch==1 --hash=sha256:00\n", "[cpu linux]\n", "[a b c d]\ntorch\n"):
        with pytest.raises(ValueError, match="runtime lock line"):
            runtime_lock.parse(bad)


def test_the_shipped_lock_parses_and_pins_every_line():
    """Whatever the shipped lock holds is well formed: versions pinned, hashes given, one of the two
    known indexes per section, and torch from PyPI exactly where the flavour is PyPI's own build
    (pinned without a local version), else from the flavour's PyTorch index."""
    sections = runtime_lock.read()
    for s in sections:
        assert s.index in (nr.PYPI_INDEX, f"{nr.TORCH_INDEX}/{s.flavour}"), s.key
        for line in s.lines:
            name, version = line.split()[0].split("==")
            assert version and all(h.startswith("--hash=sha256:") and len(h) == 78 for h in line.split()[1:])
            if name == "torch":
                pypi_build = nr.PYPI_BUILDS.get(s.target) == s.flavour
                assert (s.index == nr.PYPI_INDEX) == pypi_build, s.key
                assert version == (nr.TORCH_VERSION if pypi_build else f"{nr.TORCH_VERSION}+{s.flavour}")
    assert json.dumps([s.key for s in sections])


def test_the_shipped_lock_has_the_builds_pypi_publishes():
    """CUDA 13.0 on Linux x86-64 and aarch64 and CPU on Windows, for the Pythons of Blender 4.2-5.0
    (3.11) and 5.1-5.2 (3.13): each one section from PyPI with torch, every package it needs on that
    platform (the CUDA libraries and triton on Linux; none of them on Windows) and our three."""
    for flavour, target in (("cu130", "linux-x86_64"), ("cu130", "linux-aarch64"), ("cpu", "windows-x86_64")):
        for python in ("cp311", "cp313"):
            sections = runtime_lock.sections_for(flavour, target, python)
            assert [s.index for s in sections] == [nr.PYPI_INDEX], (flavour, target, python)
            pins = dict(line.split()[0].split("==") for line in sections[0].lines)
            assert pins["torch"] == nr.TORCH_VERSION
            assert {"pyyaml", "huggingface-hub", "jinja2"} <= set(pins)
            cuda = {name for name in pins if name.startswith(("nvidia-", "cuda-"))}
            if flavour == "cu130":
                assert pins["cuda-toolkit"].startswith("13.0.") and pins["nvidia-cuda-runtime"].startswith("13.0.")
                assert {"nvidia-cudnn-cu13", "nvidia-nccl-cu13", "nvidia-cublas", "triton"} <= set(pins)
                assert len(pins) == 41
            else:
                assert not cuda and "triton" not in pins and len(pins) == 23
    assert nr.cuda_flavour(("linux-x86_64", "cp311")) == "cu130" == nr.cuda_flavour(("linux-aarch64", "cp313"))
    assert nr.cuda_flavour(("windows-x86_64", "cp311")) is None


def test_the_shipped_lock_has_windows_cuda_for_python_313():
    """Blender 5.1-5.2 on Windows: torch 2.13.0+cu130 from the PyTorch index by its published sha256
    (its CUDA libraries are inside the wheel), everything else from PyPI: the same packages as the
    Windows CPU build, never an NVIDIA package or triton. Python 3.11 is not locked (no published hash)."""
    sections = runtime_lock.sections_for("cu130", "windows-x86_64", "cp313")
    assert [s.index for s in sections] == [f"{nr.TORCH_INDEX}/cu130", nr.PYPI_INDEX]
    assert sections[0].lines == ["torch==2.13.0+cu130 --hash=sha256:"
                                 "cf23236e9deed7d3510d14d9b9592d75d272ef7b35bbfee31a02bea339c73971"]
    cpu = runtime_lock.sections_for("cpu", "windows-x86_64", "cp313")[0].lines
    assert sections[1].lines == [line for line in cpu if not line.startswith("torch==")]
    assert nr.cuda_flavour(("windows-x86_64", "cp313")) == "cu130"
    assert runtime_lock.sections_for("cu130", "windows-x86_64", "cp311") == []

# ------------------------------------------------------------------ PyPI's own builds, --update

def _pypi_torch(cuda_runtime="13.0.3.0") -> list:
    """A PyPI-like index's torch 2.13.0 needing the CUDA toolkit on Linux only, as PyPI's does."""
    torch_whl = _wheel("torch", "2.13.0", {"torch/__init__.py": "VERSION = 'pypi'\n"},
                       ["fakedep>=1", f'cuda-toolkit=={cuda_runtime}; platform_system == "Linux"'])
    toolkit = _wheel("cuda-toolkit", cuda_runtime, {"cuda_toolkit_stub/__init__.py": ""})
    return [("torch", *torch_whl), ("cuda-toolkit", *toolkit)]


@pytest.fixture
def pypi_builds(indexes):
    """The `indexes` fixture's PyPI-like index with PyPI's own torch 2.13.0 added."""
    tmp_path, torch_root, pypi = indexes
    dep = _wheel("fakedep", "1.2", {"fakedep/__init__.py": ""})
    extra = _wheel("fakeyaml", "6.0.4", {"fakeyaml/__init__.py": ""})
    shadow = _wheel("torch", "9.9.9", {"torch/__init__.py": "VERSION = 'shadow'\n"})
    pypi = _index(tmp_path / "pypi", [("fakedep", *dep), ("fakeyaml", *extra), ("torch", *shadow), *_pypi_torch()])
    return tmp_path, torch_root, pypi


def _run_script(*args, out, torch_root, pypi):
    return _lock_script().main([*args, "--torch-index", torch_root, "--pypi-index", pypi,
                                "--packages", "fakeyaml==6.0.4", "--out", str(out)])


def test_pypi_builds_are_locked_from_pypi_alone(pypi_builds, tmp_path):
    """CUDA 13.0 on Linux and CPU on Windows need no PyTorch index (here: none reachable); torch is
    pinned without a local version and the platform's markers decide its CUDA dependency."""
    _, _, pypi = pypi_builds
    out = tmp_path / "pypi-only.lock"
    assert _run_script("--flavours", "cpu", "cu130", "--targets", "linux-x86_64", "windows-x86_64",
                       "--pythons", "cp311", out=out, torch_root=(tmp_path / "unreachable").as_uri(), pypi=pypi) == 0
    torch_sha = hashlib.sha256((tmp_path / "pypi" / "torch" / "torch-2.13.0-py3-none-any.whl").read_bytes()).hexdigest()
    linux = runtime_lock.sections_for("cu130", "linux-x86_64", "cp311", str(out))
    assert [s.index for s in linux] == [pypi]
    assert [line.split()[0] for line in linux[0].lines] == ["cuda-toolkit==13.0.3.0", "fakedep==1.2",
                                                            "fakeyaml==6.0.4", "torch==2.13.0"]
    assert linux[0].lines[-1] == f"torch==2.13.0 --hash=sha256:{torch_sha}"
    windows = runtime_lock.sections_for("cpu", "windows-x86_64", "cp311", str(out))
    assert [s.index for s in windows] == [pypi]
    assert [line.split()[0] for line in windows[0].lines] == ["fakedep==1.2", "fakeyaml==6.0.4", "torch==2.13.0"]
    # cpu on Linux and cu130 on Windows come from the PyTorch index, unreachable here: not locked
    assert runtime_lock.available(str(out)) == ["cpu windows-x86_64 cp311", "cu130 linux-x86_64 cp311"]
    assert "# not locked: cpu linux-x86_64 cp311;" in out.read_text()


def test_a_pypi_build_of_another_cuda_is_not_locked(indexes, tmp_path):
    """Should PyPI's torch move to another CUDA release, locking it as cu130 stops with a message."""
    _, torch_root, _ = indexes
    dep = _wheel("fakedep", "1.2", {"fakedep/__init__.py": ""})
    extra = _wheel("fakeyaml", "6.0.4", {"fakeyaml/__init__.py": ""})
    pypi = _index(tmp_path / "pypi132", [("fakedep", *dep), ("fakeyaml", *extra), *_pypi_torch("13.2.0.0")])
    out = tmp_path / "other.lock"
    with pytest.raises(SystemExit, match=r"cuda-toolkit==13.2.0.0: not the cu130 \(CUDA 13.0\) build"):
        _run_script("--flavours", "cu130", "--targets", "linux-aarch64", "--pythons", "cp313", out=out,
                    torch_root=torch_root, pypi=pypi)
    assert not out.exists()


def _blocks(text: str) -> list:
    return [block for block in text.split("\n\n") if block.startswith("[")]


def test_update_replaces_only_what_it_names(pypi_builds, tmp_path):
    """--update re-resolves the flavours, targets and Pythons named and keeps every other section
    as it was, byte for byte, even when its index cannot be reached any more; a combination that
    no longer resolves keeps its old sections."""
    import shutil
    _, torch_root, pypi = pypi_builds
    out = tmp_path / "runtime.lock"
    assert _run_script("--flavours", "cpu", "--targets", "linux-x86_64", "macos-arm64", "--pythons", "cp311",
                       out=out, torch_root=torch_root, pypi=pypi) == 0
    before = out.read_text()
    assert len(_blocks(before)) == 3         # linux: the torch index and PyPI; macOS: PyPI
    shutil.rmtree(tmp_path / "torchidx")     # the PyTorch index is gone: cpu on Linux cannot be re-made
    assert _run_script("--update", "--flavours", "cpu", "cu130", "--targets", "linux-x86_64", "--pythons", "cp311",
                       out=out, torch_root=torch_root, pypi=pypi) == 0
    after = out.read_text()
    for block in _blocks(before):
        assert block in _blocks(after)
    added = [b for b in _blocks(after) if b not in _blocks(before)]
    assert [b.splitlines()[0] for b in added] == [f"[cu130 linux-x86_64 cp311 {pypi}]"]
    assert runtime_lock.available(str(out)) == ["cpu linux-x86_64 cp311", "cpu macos-arm64 cp311",
                                                "cu130 linux-x86_64 cp311"]
    with pytest.raises(SystemExit, match="no lock at"):
        _run_script("--update", "--flavours", "cu130", "--targets", "linux-x86_64", "--pythons", "cp311",
                    out=tmp_path / "absent.lock", torch_root=torch_root, pypi=pypi)


# ------------------------------------------------------------------ 'cuda', refusals, the panel

def _lock_text(*keys) -> str:
    return "".join(f"[{f} {t} {p} {nr.PYPI_INDEX}]\ntorch=={nr.TORCH_VERSION} --hash=sha256:{'0' * 64}\n"
                   for f, t, p in keys)


def test_cuda_is_the_cuda_build_the_lock_has_here(tmp_path):
    """'cuda' installs PyPI's own CUDA build where it is locked, else the newest locked one."""
    lock = tmp_path / "runtime.lock"
    lock.write_text(_lock_text(("cu126", "linux-x86_64", "cp311"), ("cu130", "linux-x86_64", "cp311"),
                               ("cu132", "linux-x86_64", "cp311"), ("cu126", "windows-x86_64", "cp311"),
                               ("cu132", "windows-x86_64", "cp311")))
    assert nr.cuda_flavour(("linux-x86_64", "cp311"), str(lock)) == "cu130"
    assert nr.cuda_flavour(("windows-x86_64", "cp311"), str(lock)) == "cu132"
    assert nr.cuda_flavour(("linux-aarch64", "cp311"), str(lock)) is None
    commands = nr.build_commands(tmp_path / "x", "CUDA", lock=str(lock), where=("windows-x86_64", "cp311"))
    assert len(commands) == 1 and commands[0][1].startswith("torch==")
    with pytest.raises(EngineError, match="no CUDA PyTorch for macOS"):
        nr.build_commands(tmp_path / "x", "cuda", lock=str(lock), where=("macos-arm64", "cp311"))


def test_cpu_on_linux_aarch64_points_to_the_cuda_build(tmp_path):
    lock = tmp_path / "runtime.lock"
    lock.write_text(_lock_text(("cu130", "linux-aarch64", "cp311")))
    with pytest.raises(EngineError, match=r"'cpu' flavour on linux-aarch64 with Python 3.11; locked there: cu130\. "
                                          r"The cu130 build also runs without an NVIDIA GPU, on the CPU \(a bigger "
                                          r"download\): choose 'cu130'"):
        nr.build_commands(tmp_path / "x", "cpu", lock=str(lock), where=("linux-aarch64", "cp311"))


def test_the_panel_describes_the_flavours_as_locked_here(tmp_path, monkeypatch):
    """No flavour label names a build torch 2.13.0 lacks (CUDA 12.8); 'cuda' names the build it
    installs here, and a flavour the lock lacks here says so."""
    target, python = runtime_lock.this_target()
    lock = tmp_path / "runtime.lock"
    lock.write_text(_lock_text(("cpu", target, python), ("cu126", target, python)))
    monkeypatch.setattr(runtime_lock, "LOCK_FILE", str(lock))
    choices = {c.value: c for c in assets.runtime().flavours}
    assert list(choices) == ["cpu", "cuda", "cu126", "cu130", "cu132"]
    assert [choices[f].label for f in nr.CUDA_FLAVOURS] == ["CUDA 12.6", "CUDA 13.0", "CUDA 13.2"]
    assert not any("12.8" in c.label + c.help or "cu128" in c.help for c in choices.values())
    if target.startswith("macos"):
        assert all("no CUDA PyTorch for macOS" in choices[f].help for f in ("cuda",) + nr.CUDA_FLAVOURS)
        return
    assert choices["cuda"].label == "CUDA (recommended)" and "the cu126 build (CUDA 12.6)" in choices["cuda"].help
    assert "not locked" not in choices["cu126"].help and "not locked" in choices["cu130"].help
    assert "525.60.13" in choices["cu126"].help or "528.33" in choices["cu126"].help
    lock.write_text(_lock_text(("cpu", target, python)))
    choices = {c.value: c for c in assets.runtime().flavours}
    assert choices["cuda"].label == "CUDA" and "not locked" in choices["cuda"].help


def test_the_lock_is_read_once_when_the_flavours_are_asked_and_not_before(tmp_path, monkeypatch):
    """find_assets builds the runtime on every panel redraw and CLI parse: it reads nothing then."""
    target, python = runtime_lock.this_target()
    lock = tmp_path / "runtime.lock"
    lock.write_text(_lock_text(("cpu", target, python), ("cu130", target, python)))
    monkeypatch.setattr(runtime_lock, "LOCK_FILE", str(lock))
    reads, read = [], runtime_lock.read
    monkeypatch.setattr(runtime_lock, "read", lambda path=None: reads.append(path) or read(path))
    runtime = assets.runtime()
    assert reads == []
    assert [c.value for c in runtime.flavours] == ["cpu", "cuda", "cu126", "cu130", "cu132"]
    assert len(reads) == 1


# ------------------------------------------------------------------ the NVIDIA driver

def _nvidia_smi(folder: pathlib.Path, script: str, monkeypatch) -> pathlib.Path:
    """A stand-in nvidia-smi first on PATH (it prints what a driver's would)."""
    folder.mkdir(parents=True, exist_ok=True)
    smi = folder / "nvidia-smi"
    smi.write_text("#!/bin/sh\n" + script)
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return smi


def test_the_driver_version_is_read_from_nvidia_smi(tmp_path, monkeypatch):
    _nvidia_smi(tmp_path / "two", 'echo "535.54.03"\necho "535.54.03"\n', monkeypatch)
    assert gpu_driver.installed_version() == (535, 54, 3)
    _nvidia_smi(tmp_path / "win", 'echo "581.29"\n', monkeypatch)
    assert gpu_driver.installed_version() == (581, 29)
    _nvidia_smi(tmp_path / "broken", 'echo "NVIDIA-SMI has failed because it could not communicate with the '
                                     'NVIDIA driver."\nexit 9\n', monkeypatch)
    assert gpu_driver.installed_version() is None
    _nvidia_smi(tmp_path / "na", 'echo "[N/A]"\n', monkeypatch)
    assert gpu_driver.installed_version() is None
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert gpu_driver.installed_version() is None


def test_driver_minimums_follow_the_cuda_major_release():
    assert gpu_driver.supports("cu130", (580, 65, 6), "linux") and gpu_driver.supports("cu132", (580,), "windows")
    assert not gpu_driver.supports("cu130", (575, 64, 5), "linux")
    assert gpu_driver.supports("cu126", (525, 60, 13), "linux") and not gpu_driver.supports("cu126", (525, 60, 12), "linux")
    assert gpu_driver.supports("cu126", (528, 33), "windows") and not gpu_driver.supports("cu126", (528, 24), "windows")
    assert gpu_driver.supports("cu130", None, "linux") and gpu_driver.supports("cpu", (300,), "linux")


def test_a_too_old_driver_is_refused_before_anything_is_downloaded(tmp_path, monkeypatch):
    target, python = runtime_lock.this_target()
    if target.startswith("macos"):
        pytest.skip("no CUDA flavour on macOS")
    lock = tmp_path / "runtime.lock"
    lock.write_text(_lock_text(("cpu", target, python), ("cu126", target, python), ("cu130", target, python)))
    ran = tmp_path / "pip-ran"
    pip = tmp_path / "fake-python"
    pip.write_text(f'#!/bin/sh\ntouch "{ran}"\necho "ERROR: stop here"\nexit 3\n')
    pip.chmod(pip.stat().st_mode | stat.S_IEXEC)
    _nvidia_smi(tmp_path / "bin", 'echo "570.133.07"\n', monkeypatch)
    with pytest.raises(EngineError, match=r"driver is 570.133.07, and the cu130 build of PyTorch \(CUDA 13.0\) "
                                          r"needs driver 580 or newer, so nothing was downloaded\. Update the NVIDIA "
                                          r"driver or choose the 'cpu' or 'cu126' flavour"):
        nr.install(tmp_path / "rt", "cuda", python=str(pip), lock=str(lock))
    assert not ran.exists() and not (tmp_path / "rt").exists()
    assert not [p for p in os.listdir(tmp_path) if ".partial" in p]
    with pytest.raises(EngineError, match="exit code 3"):          # cu126 runs on 570: pip is reached
        nr.install(tmp_path / "rt", "cu126", python=str(pip), lock=str(lock))
    assert ran.exists()


def test_install_pypis_own_build_from_pypi_alone(pypi_builds, tmp_path, monkeypatch):
    """This platform's PyPI build, locked and installed for real from the PyPI-like index (on Linux
    the CUDA 13.0 build, with a driver new enough for it)."""
    _, _, pypi = pypi_builds
    target, python = runtime_lock.this_target()
    flavour = nr.PYPI_BUILDS.get(target)
    if flavour is None:
        pytest.skip(f"no PyPI build is locked for {target}")
    out = tmp_path / "runtime.lock"
    assert _run_script("--flavours", flavour, "--targets", target, "--pythons", python, out=out,
                       torch_root=(tmp_path / "unreachable").as_uri(), pypi=pypi) == 0
    _nvidia_smi(tmp_path / "bin", 'echo "580.65.06"\n', monkeypatch)
    info = nr.install(tmp_path / "rt", "cuda" if flavour != "cpu" else "cpu", lock=str(out))
    assert info["flavour"] == flavour
    assert (tmp_path / "rt" / "torch" / "__init__.py").read_text() == "VERSION = 'pypi'\n"
    assert (tmp_path / "rt" / "cuda_toolkit_stub").is_dir() == target.startswith("linux")
