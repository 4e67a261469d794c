"""The lock file beside downloaded models: for every repository the catalogue cannot pin to a
commit (its revision is a branch, e.g. ATA-space/UniTAF @ main), the commit a download actually
resolved, with the size and sha256 of each file fetched from it.

A studio copies this one small JSON file to reproduce a set-up: while it names a commit, status
looks files up in that commit's snapshot and downloads fetch that commit instead of the branch's
newest. Deleting it lets the next download follow the branch again. Torch-free, no network.
"""
from __future__ import annotations

import json
import os
import re
import time
from typing import Optional

LOCK_NAME = "unitaf-models.lock.json"
_COMMIT = re.compile(r"[0-9a-f]{40}")


def lock_path(cache_dir: str) -> str:
    return os.path.join(cache_dir, LOCK_NAME)


def read_lock(cache_dir: str) -> dict:
    """{repo_id: {"branch", "commit", "downloaded", "files": {filename: {"size", "sha256"}}}};
    {} when there is no lock or it cannot be read (a damaged lock pins nothing)."""
    try:
        with open(lock_path(cache_dir), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    repos = data.get("repos") if isinstance(data, dict) else None
    if not isinstance(repos, dict):
        return {}
    return {repo: entry for repo, entry in repos.items()
            if isinstance(entry, dict) and _COMMIT.fullmatch(str(entry.get("commit", "")))}


def commit_of_snapshot_path(path: str) -> Optional[str]:
    """The commit in a Hugging Face cache path `.../snapshots/<commit>/<filename>`."""
    parts = os.path.normpath(path).split(os.sep)
    for i, part in enumerate(parts[:-1]):
        if part == "snapshots" and _COMMIT.fullmatch(parts[i + 1]):
            return parts[i + 1]
    return None


def record(cache_dir: str, spec, path: str, sha256: str) -> None:
    """Add a downloaded file of an unpinned repository to the lock (written atomically). A file
    from another commit than the one locked starts the repository's entry afresh."""
    commit = commit_of_snapshot_path(path)
    if commit is None:
        return
    try:
        with open(lock_path(cache_dir), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict) or not isinstance(data.get("repos"), dict):
        data = {"repos": {}}
    entry = data["repos"].get(spec.repo_id)
    if not isinstance(entry, dict) or entry.get("commit") != commit:
        entry = {"branch": spec.revision, "commit": commit, "files": {}}
    entry["downloaded"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    entry["files"][spec.filename] = {"size": os.path.getsize(path), "sha256": sha256}
    data["repos"][spec.repo_id] = entry
    data["about"] = ("Commits resolved by UniTAF model downloads for repositories without a pinned commit; "
                     "copy this file to reproduce the set-up, delete it to follow the branch again.")
    os.makedirs(cache_dir, exist_ok=True)
    tmp = lock_path(cache_dir) + f".tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    os.replace(tmp, lock_path(cache_dir))
