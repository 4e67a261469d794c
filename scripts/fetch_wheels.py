"""Download the wheels the extension bundles (wheels/wheels.lock) and verify their sha256.

Wheels are build inputs, not sources, so they are not committed. A wheel already present
with the right hash is kept; a wrong one is replaced.
"""
import hashlib
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
WHEELS = ROOT / "wheels"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def locked():
    for line in (WHEELS / "wheels.lock").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, digest = line.split()
            yield name, digest


def platform_tag(name):
    # name-version-pytag-abitag-platform.whl; the platform field may hold several dotted tags.
    return name[:-4].split("-")[4].split(".")[0]


def python_version(name):
    """The Python a wheel is built for: cp313 -> 3.13; a py3 wheel -> 3.11 (any would do)."""
    tag = name[:-4].split("-")[2]
    return f"3.{tag[3:]}" if tag.startswith("cp3") else "3.11"


def fetch(name, digest):
    target = WHEELS / name
    if target.exists() and sha256(target) == digest:
        return False
    dist, version = name.split("-")[:2]
    platform = platform_tag(name)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           *(["--platform", platform] if platform != "any" else []), "--python-version", python_version(name),
           "-d", str(WHEELS), f"{dist.replace('_', '-')}=={version}"]
    subprocess.run(cmd, check=True)
    if not target.exists():
        raise SystemExit(f"pip did not produce {name}")
    if sha256(target) != digest:
        target.unlink()
        raise SystemExit(f"{name}: sha256 mismatch, refusing the download")
    return True


def main():
    WHEELS.mkdir(exist_ok=True)
    for name, digest in locked():
        got = fetch(name, digest)
        print(("fetched " if got else "ok      ") + name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
