"""The locked neural runtime against two local indexes (file://, PEP 503 pages; no network):
scripts/lock_runtime.py writes the lock, torch_install.install installs exactly it with pip, each
section from its own index with --require-hashes, and refuses a changed file."""
import base64
import hashlib
import importlib.util
import io
import json
import os
import pathlib
import sys
import zipfile

import pytest

from unitaf_blender.engines import EngineError
from unitaf_blender.engines.unitaf import runtime_lock
from unitaf_blender.engines.unitaf import torch_install as nr

ROOT = pathlib.Path(__file__).resolve().parents[2]
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


def _write_lock(tmp_path, torch_root, pypi) -> pathlib.Path:
    spec = importlib.util.spec_from_file_location("lock_runtime", ROOT / "scripts" / "lock_runtime.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
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
    assert runtime_lock.sections_for("cu128", target, python, str(lock)) == []


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
    with pytest.raises(EngineError, match=r"No locked neural runtime for the 'cu128' flavour on linux-x86_64 .*"
                                          r"locked: cpu linux-x86_64 cp311"):
        nr.build_commands(tmp_path / "x", "cuda", lock=str(lock), where=("linux-x86_64", "cp311"))
    with pytest.raises(EngineError, match="No locked neural runtime"):
        nr.install(tmp_path / "rt", "cpu", lock=str(tmp_path / "absent.lock"))
    assert not (tmp_path / "rt").exists()
    for bad in ("torch==1 --hash=sha256:00\n", "[cpu linux]\n", "[a b c d]\ntorch\n"):
        with pytest.raises(ValueError, match="runtime lock line"):
            runtime_lock.parse(bad)


def test_the_shipped_lock_parses_and_pins_every_line():
    """Whatever the shipped lock holds is well formed: versions pinned, hashes given, torch only
    from the PyTorch index (macOS: PyPI), one index per section."""
    sections = runtime_lock.read()
    for s in sections:
        for line in s.lines:
            name, version = line.split()[0].split("==")
            assert version and all(h.startswith("--hash=sha256:") and len(h) == 78 for h in line.split()[1:])
            if name == "torch":
                assert s.index.startswith(nr.TORCH_INDEX) != s.target.startswith("macos")
    assert json.dumps([s.key for s in sections])
