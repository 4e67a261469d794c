"""Model store: status, offline refusal and downloads through huggingface_hub against a local fake
Hub (tests/fake_hub.py). Nothing here touches the real network.
"""
import hashlib
import os
import shutil
import sys
import threading

import pytest
from fake_hub import serve_fake_hub

from shared_paths import PARITY, need
from unitaf_blender import cli
from unitaf_blender.cli import setup_commands
from unitaf_blender.engines import Cancelled
from unitaf_blender.engines import model_download as dl
from unitaf_blender.engines import model_store as ms
from unitaf_blender.engines.unitaf import catalog
from unitaf_blender.engines.unitaf import store as st

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _blob(seed: int, n: int) -> bytes:
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < n:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:n])


FILES = {  # (repo, filename) -> content
    ("acme/speech", "big.bin"): _blob(1, 300_000),
    ("acme/speech", "sub/dir/small.json"): b'{"tiny": true}\n',
    ("acme/face", "run(加权)/a2f.pt"): _blob(2, 50_000),
}


def _specs(pin_sha=True, wrong_size=False):
    big = FILES[("acme/speech", "big.bin")]
    face = FILES[("acme/face", "run(加权)/a2f.pt")]
    return (
        catalog.ModelFile("t.big", "acme/speech", "big.bin", "main", len(big), ("speech",),
                     size=len(big) + (1 if wrong_size else 0),
                     sha256=hashlib.sha256(big).hexdigest() if pin_sha else None),
        catalog.ModelFile("t.small", "acme/speech", "sub/dir/small.json", "main", 15, ("speech",)),
        catalog.ModelFile("t.face", "acme/face", "run(加权)/a2f.pt", COMMIT, len(face), ("face",)),
    )


@pytest.fixture
def hub(monkeypatch):
    yield from serve_fake_hub(monkeypatch, FILES, COMMIT)


def _no_partial_files(root):
    leftovers = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".incomplete")]
    assert not leftovers, leftovers


def test_fresh_download_with_progress(hub, tmp_path):
    store = st.ModelStore(cache_dir=tmp_path, files=_specs())
    events = []
    paths = store.download(["speech", "face"], progress=events.append)
    assert len(paths) == 3
    for spec, path in zip(store.files, paths):
        with open(path, "rb") as f:
            assert f.read() == FILES[(spec.repo_id, spec.filename)]
    assert all(s.ok for s in store.status(["speech", "face"]))
    assert store.path("t.face").endswith(os.path.join("run(加权)", "a2f.pt"))
    # progress: every file announced, byte counts grow monotonically to the total
    assert {e.file for e in events} == {s.display for s in store.files}
    big = [e for e in events if e.file == "acme/speech/big.bin"]
    assert big[-1].file_done == big[-1].file_total == 300_000
    dones = [e.done for e in events]
    assert dones == sorted(dones) and dones[-1] == sum(len(v) for v in FILES.values())
    assert events[-1].index == events[-1].count == 3
    _no_partial_files(tmp_path)
    # a second call finds everything and does not hit the server again
    n = len(hub.log)
    store.download(["speech", "face"])
    assert len(hub.log) == n


def test_resume_after_connection_cut(hub, tmp_path, monkeypatch):
    import huggingface_hub.constants as hc
    # the hub writes in DOWNLOAD_CHUNK_SIZE pieces (10 MB); smaller here so a 300 kB file can resume
    monkeypatch.setattr(hc, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)
    hub.cut_once.add("big.bin")
    store = st.ModelStore(cache_dir=tmp_path, files=_specs())
    events = []
    store.download("speech", progress=events.append)
    gets = [r for r in hub.log if r[0] == "GET" and r[1] == "big.bin"]
    assert len(gets) == 2 and gets[0][2] is None
    assert gets[1][2] == f"bytes={2 * 64 * 1024}-"  # resumed from the bytes already written, not restarted
    with open(store.path("t.big"), "rb") as f:
        assert f.read() == FILES[("acme/speech", "big.bin")]
    assert max(e.file_done for e in events if e.file.endswith("big.bin")) == 300_000
    _no_partial_files(tmp_path)


def test_cancel_then_second_run_completes(hub, tmp_path, monkeypatch):
    import huggingface_hub.constants as hc
    monkeypatch.setattr(hc, "DOWNLOAD_CHUNK_SIZE", 16 * 1024)
    cancel = threading.Event()
    store = st.ModelStore(cache_dir=tmp_path, files=_specs())

    def stop_in_face_file(p):
        if p.file.endswith("a2f.pt") and p.file_done > 0:
            cancel.set()

    with pytest.raises(Cancelled):
        store.download(["speech", "face"], progress=stop_in_face_file, cancel=cancel)
    assert store.file_status(store.spec("t.face")).present is False  # nothing half-written looks complete
    assert store.file_status(store.spec("t.big")).ok  # files finished before the cancel are kept
    _no_partial_files(tmp_path)
    hub.log.clear()
    store.download(["speech", "face"])
    assert {r[1] for r in hub.log} == {"run(加权)/a2f.pt"}  # only the interrupted file is fetched again
    with open(store.path("t.face"), "rb") as f:
        assert f.read() == FILES[("acme/face", "run(加权)/a2f.pt")]


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned-sha256", "hub-etag"])
def test_corrupted_download_is_rejected_and_removed(hub, tmp_path, pinned):
    hub.corrupt.add("big.bin")
    store = st.ModelStore(cache_dir=tmp_path, files=_specs(pin_sha=pinned))
    with pytest.raises(dl.DownloadError, match=r"acme/speech/big\.bin does not check out \(sha256"):
        store.download("speech")
    assert not store.file_status(store.spec("t.big")).present
    blobs = [f for d, _, fs in os.walk(tmp_path) for f in fs if d.endswith("blobs")]
    assert hashlib.sha256(FILES[("acme/speech", "big.bin")]).hexdigest() not in blobs
    assert len([f for f in blobs if len(f) == 64]) == 0
    _no_partial_files(tmp_path)
    hub.corrupt.clear()
    store.download("speech")  # fixed upstream -> fine
    assert store.verify("speech") and all(problem == "" for _, problem in store.verify("speech"))


def test_wrong_size_is_reported(hub, tmp_path):
    store = st.ModelStore(cache_dir=tmp_path, files=_specs(wrong_size=True))
    with pytest.raises(dl.DownloadError, match=r"big\.bin.*(size|Consistency)"):
        store.download("speech")
    assert not store.file_status(store.spec("t.big")).present


def test_offline_lists_missing_files_and_size(hub, tmp_path, monkeypatch):
    store = st.ModelStore(cache_dir=tmp_path, files=_specs())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(st.ModelsMissing) as err:
        store.download(["speech", "face"])
    msg = str(err.value)
    assert "3 UniTAF model file(s) missing" in msg and "offline" in msg
    assert "acme/speech/big.bin (300.0 kB)" in msg and "acme/face/run(加权)/a2f.pt" in msg
    assert "350.0 kB to download" in msg
    assert len(err.value.missing) == 3
    with pytest.raises(st.ModelsMissing, match="offline"):
        store.download("face", offline=True)
    assert hub.log == []


def test_network_not_allowed_refuses(hub, tmp_path):
    store = st.ModelStore(cache_dir=tmp_path, files=_specs())
    with pytest.raises(st.ModelsMissing, match="Allow Online Access"):
        store.download("speech", allow_network=False)
    assert hub.log == []
    with pytest.raises(st.ModelsMissing, match=r"acme/speech/big\.bin"):
        store.path("t.big")


def test_unknown_feature_and_id():
    store = st.ModelStore(cache_dir="/nonexistent", files=_specs())
    with pytest.raises(ValueError, match="unknown feature"):
        store.status("lipsync")
    with pytest.raises(KeyError, match="t.big"):
        store.spec("nope")


def test_prepared_cache_dir(tmp_path):
    """A cache laid out by hand (or by another tool) in the HF layout is found without network."""
    big = FILES[("acme/speech", "big.bin")]
    snap = tmp_path / "models--acme--speech" / "snapshots" / COMMIT
    (snap / "sub" / "dir").mkdir(parents=True)
    (snap / "big.bin").write_bytes(big)
    (snap / "sub" / "dir" / "small.json").write_bytes(FILES[("acme/speech", "sub/dir/small.json")])
    (tmp_path / "models--acme--speech" / "refs").mkdir()
    (tmp_path / "models--acme--speech" / "refs" / "main").write_text(COMMIT)
    store = st.ModelStore(cache_dir=tmp_path, files=_specs())
    assert [s.ok for s in store.status("speech")] == [True, True]
    assert store.missing("face")[0].spec.id == "t.face"
    assert store.download("speech", allow_network=False)  # nothing missing -> no network needed
    (snap / "big.bin").write_bytes(big[:1000])  # truncated: size check catches it
    bad = store.file_status(store.spec("t.big"))
    assert bad.present and bad.size_ok is False and "expected 300000" in bad.problem
    assert [p for _, p in store.verify("speech") if p]


def test_optional_file_is_fetched_but_never_required(hub, tmp_path):
    """An optional catalogue file (like w2v-BERT's config.json) is downloaded with its feature,
    but its absence blocks nothing: not require(), not status, not an offline/model-folder call."""
    small = catalog.ModelFile("t.small", "acme/speech", "sub/dir/small.json", "main", 15, ("speech",), optional=True)
    files = (_specs()[0], small)
    store = st.ModelStore(cache_dir=tmp_path, files=files)
    assert [s.spec.id for s in store.missing("speech")] == ["t.big"]
    store.download("speech")
    assert store.optional_path("t.small") == store.path("t.small")
    os.remove(store.path("t.small"))
    assert store.optional_path("t.small") is None
    assert store.missing("speech") == []
    store.require("speech")
    hub.log.clear()
    assert store.download("speech", offline=True)[1] is None    # nothing required missing: no error
    assert store.download("speech", allow_network=False)[1] is None
    assert hub.log == []
    text = setup_commands.format_status(store, "speech")
    assert "optional" in text and "MISSING" not in text and "All files for the default features" in text
    assert "Optional, not present (1): acme/speech/sub/dir/small.json" in text
    store.download("speech")                                     # online: the optional file comes back
    assert store.optional_path("t.small") and {r[1] for r in hub.log} == {"sub/dir/small.json"}
    # a model folder without the optional file is complete; with a truncated required file it is not
    st.build_model_dir(tmp_path / "md", {"t.big": store.path("t.big")}, files=files)
    md = st.ModelStore(model_dir=tmp_path / "md", files=files)
    assert md.missing("speech") == [] and md.download("speech")[1] is None
    assert md.optional_path("t.small") is None


def test_catalogue_has_w2v_bert_config():
    spec = {f.id: f for f in catalog.MODEL_FILES}
    cfg, weights = spec["w2vbert.config"], spec["w2vbert.model"]
    assert (cfg.repo_id, cfg.filename, cfg.revision) == (weights.repo_id, "config.json", weights.revision)
    assert cfg.optional and cfg.revision_verified and set(cfg.features) == set(weights.features)
    optional = {"w2vbert.config", "indextts2.licence", "qwen_emo.chat_template", "qwen_emo.tokenizer_config"}
    assert {f.id for f in catalog.MODEL_FILES if f.optional} == optional


def test_hf_home_and_hub_cache_env(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hfhome"))
    assert st.ModelStore().cache_dir == str(tmp_path / "hfhome" / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hubcache"))
    assert st.ModelStore().cache_dir == str(tmp_path / "hubcache")
    assert st.ModelStore(cache_dir=tmp_path / "x").cache_dir == str(tmp_path / "x")


def test_format_status_real_catalogue(tmp_path, capsys):
    text = setup_commands.format_status(st.ModelStore(cache_dir=tmp_path))
    assert "MISSING" in text and "IndexTeam/IndexTTS-2/gpt.pth" in text
    assert "amphion/MaskGCT: CC-BY-NC-4.0 (NON-COMMERCIAL" in text
    assert "bilibili Model Use License" in text
    assert "ATA-space/UniTAF @ main (UNVERIFIED revision" in text
    assert "IndexTeam/IndexTTS-2 @ 740dcaff396282ffb241903d150ac011cd4b1ede" in text
    assert "except IndexTTS derivatives and non-commercial models" in text
    assert "full text of IndexTeam/IndexTTS-2's licence: not downloaded yet" in text
    assert "exactly 3,484,663,079 B, sha256 baaaeb8b56328da81731dc540a85a7dee32eca9da28f174b05757cb651c602a4" in text
    assert "Missing for the default features" in text and "GB to download" in text
    # every catalogue entry is well formed
    ids = [f.id for f in catalog.MODEL_FILES]
    assert len(ids) == len(set(ids))
    for f in catalog.MODEL_FILES:
        assert set(f.features) <= set(catalog.FEATURES) and f.licence != "unknown"
        assert f.sha256 is None or len(f.sha256) == 64
    for spec_id in ("indextts2.gpt", "indextts2.s2mel", "w2vbert.model", "maskgct.semantic_codec",
                    "campplus.model", "bigvgan.generator", "unitaf.projector", "unitaf.a2f"):
        assert spec_id in ids
    import argparse
    # missing files are information: status exits 0; --check (for scripts) exits 1
    rc = setup_commands.cli_status(argparse.Namespace(cache_dir=str(tmp_path), model_dir=None, features=None))
    assert rc == 0 and "MISSING" in capsys.readouterr().out
    rc = setup_commands.cli_status(argparse.Namespace(cache_dir=str(tmp_path), model_dir=None, features=None, check=True))
    assert rc == 1 and "MISSING" in capsys.readouterr().out
    assert cli.run(["models", "status", "--cache-dir", str(tmp_path)]) == 0
    assert cli.run(["models", "status", "--cache-dir", str(tmp_path), "--check"]) == 1
    capsys.readouterr()
    rc = setup_commands.cli_download(argparse.Namespace(cache_dir=str(tmp_path), model_dir=None, features=["face"],
                                            offline=True))
    assert rc == 1 and "offline" in capsys.readouterr().err


def test_store_imports_without_torch():
    import subprocess
    code = ("import sys; sys.modules['torch'] = None; sys.modules['bpy'] = None\n"
            "from unitaf_blender.engines import model_download, model_store\n"
            "from unitaf_blender.engines.unitaf import catalog, store\n"
            "print(len(catalog.MODEL_FILES), 'huggingface_hub' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[1] == "False"


def test_model_dir_from_parity_fixtures(tmp_path):
    """`--model-dir` layout built from the parity fixtures loads through the real face loader."""
    torch = pytest.importorskip("torch")
    import numpy as np

    from unitaf_blender.engines.unitaf.face import FaceHead
    a2f = need(PARITY / "unitaf_a2f")
    st.build_model_dir(tmp_path, {"unitaf.projector": a2f / "audio_feature_projector.pt",
                                  "unitaf.a2f": a2f / "a2f_model.pt"})
    store = st.ModelStore(model_dir=tmp_path)
    assert store.missing("face")  # the speech files of the face feature are not there
    path = store.path("unitaf.a2f")
    assert path == os.path.join(str(tmp_path), "ATA-space", "UniTAF", *catalog._A2F_RUN.split("/"), "a2f_model.pt")
    head = FaceHead.from_dir(os.path.dirname(path))
    case = np.load(a2f / "case_L40.npz")
    got = head(torch.from_numpy(case["audio_feature"])).numpy()
    np.testing.assert_allclose(got, case["mouth_motion"], atol=1e-4, rtol=1e-4)
    with pytest.raises(st.ModelsMissing, match="never downloaded into"):
        store.download("face")
    with pytest.raises(FileNotFoundError):
        st.build_model_dir(tmp_path, {"unitaf.a2f": tmp_path / "nope.pt"})
    shutil.rmtree(tmp_path / "ATA-space")
    st.build_model_dir(tmp_path, {"unitaf.a2f": a2f / "a2f_model.pt"}, copy=True)
    assert not os.path.islink(store.path("unitaf.a2f"))


def test_progress_bar_class_works_with_the_xet_reporter():
    """Real Hub files are Xet-backed: with hf_xet installed the hub drives our bar through its reporter."""
    xet = pytest.importorskip("huggingface_hub.utils._xet_progress_reporting")
    import logging
    import types
    spec = _specs()[0]
    events, cancel = [], threading.Event()
    bar_cls = dl._progress_class(spec, 1, 1, 1000, {"done": 0}, events.append, cancel)
    reporter = xet.XetDownloadProgressReporter(reconstruction_desc="x", total=1000, log_level=logging.WARNING,
                                               tqdm_class=bar_cls)
    assert reporter.transfer_bar is reporter.reconstruction_bar  # one bar: no double counting

    def report(done, transferred):
        return types.SimpleNamespace(total_bytes_completed=done, total_transfer_bytes_completed=transferred,
                                     total_bytes_completion_rate=1.0, total_transfer_bytes_completion_rate=1.0,
                                     total_bytes=1000)
    reporter.update_progress(report(400, 600))
    reporter.update_progress(report(1000, 900))
    reporter.close()
    assert events[-1].file_done == 1000 and events[-1].done == 1000
    cancel.set()
    with pytest.raises(Cancelled):
        reporter.update_progress(report(1000, 1000))  # transfer bytes still check cancel


def test_missing_models_message_says_what_to_do_on_its_first_line(tmp_path):
    """A caller that shows only the first line (the CLI, a status bar) still tells the user how."""
    with pytest.raises(st.ModelsMissing) as exc:
        st.ModelStore(cache_dir=tmp_path).require()
    first, *rest = str(exc.value).splitlines()
    assert "GB to download" in first and "`models download`" in first and "Download models" in first
    assert any("gpt.pth" in line for line in rest) and rest[-1] == f"Cache folder: {tmp_path}"


def test_missing_model_folder_is_not_found_not_to_download(tmp_path):
    with pytest.raises(st.ModelsMissing) as exc:
        st.ModelStore(model_dir=tmp_path / "nowhere").require()
    first = str(exc.value).splitlines()[0]
    assert "model folder not found" in first and str(tmp_path / "nowhere") in first
    assert "to download" not in str(exc.value) and "models download" not in str(exc.value)
    # an existing folder with files missing: copy them there (a model folder is never downloaded into)
    with pytest.raises(st.ModelsMissing) as exc:
        st.ModelStore(model_dir=tmp_path).require()
    assert "missing in the model folder" in str(exc.value) and "to download" not in str(exc.value)


def test_model_folder_file_of_the_wrong_size_is_reported(tmp_path):
    gpt = next(f for f in catalog.MODEL_FILES if f.id == "indextts2.gpt")
    src = tmp_path / "gpt.pth"
    src.write_bytes(b"\0" * 1_000_000)
    store = st.ModelStore(model_dir=st.build_model_dir(tmp_path / "md", {"indextts2.gpt": src}))
    status = store.file_status(gpt)
    assert status.ok and status.problem == "expected 3.48 GB, found 1.0 MB"   # reported, not refused
    assert "expected 3.48 GB, found 1.0 MB" in store.size_report()
    assert "SIZE? (expected 3.48 GB, found 1.0 MB)" in setup_commands.format_status(store)
    exact = next(f for f in catalog.MODEL_FILES if f.size is not None)
    assert st.ModelStore(model_dir=tmp_path).size_report() == ""
    assert "found" in ms._size_note(exact, exact.size + 1) and ms._size_note(exact, exact.size) == ""


# Public evidence for the catalogue (issue table): exact byte counts and sha256 of every file.
PINNED = {
    "indextts2.gpt": (3_484_663_079, "baaaeb8b"), "indextts2.s2mel": (1_202_198_223, "aae1bb12"),
    "indextts2.bpe": (475_997, "b2a5ce8090d32da3642cc4f81fdc996376bc6dd3f4cd5e3d165f71120d9f2bc8"),
    "indextts2.config": (2882, "ea9c2815ecc3874577c7ac158b97248c027250e5b05972fbbb1216b6d6539081"),
    "indextts2.feat2": (374_866, "9c4292e96dee535aea9a6206e9a0c856dd578dde9212acdb16dd3ada4d12bf80"),
    "w2vbert.model": (2_322_063_736, "eb890c96"),
    "w2vbert.config": (1874, "f5572bd5998b68182e9c328a43127ed21fed687f6910497136b91a4e3b0e3675"),
    "w2vbert.preprocessor": (275, "8e6281aad64f97e40534135a59dcc5d33571efae376f2a25adf5551951897ab4"),
    "maskgct.semantic_codec": (177_183_712, "ec947271"),
    "campplus.model": (28_036_335, "3388cf5fd3493c9ac9c69851d8e7a8badcfb4f3dc631020c4961371646d5ada8"),
    "bigvgan.generator": (449_228_171, "e95ba25972d3de0628d99cd156e9315a9c018899bf739988959ebe3544080ced"),
    "bigvgan.config": (1405, "88a1f47acf747db0b21e97a389d838566147f7a5464583ff5c8d819d870f03ee"),
    "qwen_emo.model": (1_192_135_096, "11293257a8df593c154a8ecd5fc039f3076de35411e35f06d41b471e136f6641"),
    "qwen_emo.tokenizer": (11_422_654, "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"),
    "qwen_emo.config": (727, None), "qwen_emo.generation_config": (117, None),
    "qwen_emo.chat_template": (550, None),
}


def test_catalogue_pins_every_file_of_the_public_evidence():
    spec = {f.id: f for f in catalog.MODEL_FILES}
    for spec_id, (size, digest) in PINNED.items():
        assert spec[spec_id].size == size, spec_id
        assert (spec[spec_id].sha256 or "").startswith(digest or ""), spec_id
    itts = [f for f in catalog.MODEL_FILES if f.repo_id == "IndexTeam/IndexTTS-2"]
    assert {f.revision for f in itts} == {"740dcaff396282ffb241903d150ac011cd4b1ede"}
    assert spec["indextts2.licence"].filename == "LICENSE.txt"
    assert set(spec["indextts2.licence"].features) == set(catalog.FEATURES)
    # only the files no public page gives a byte count for stay approximate
    assert {f.id for f in catalog.MODEL_FILES if f.size is None} == {
        "indextts2.licence", "qwen_emo.tokenizer_config", "unitaf.projector", "unitaf.a2f"}


def test_real_sizes_of_small_files_check_out_in_a_cache(tmp_path):
    """The real preprocessor_config.json (275 B) and generation_config.json (117 B) are good; one
    byte more is flagged (the approximate sizes of before would have flagged the real files)."""
    spec = {f.id: f for f in catalog.MODEL_FILES}
    store = st.ModelStore(cache_dir=tmp_path)
    for spec_id in ("w2vbert.preprocessor", "qwen_emo.generation_config"):
        f = spec[spec_id]
        snap = tmp_path / ("models--" + f.repo_id.replace("/", "--")) / "snapshots" / f.revision
        path = snap.joinpath(*f.filename.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * f.size)
        assert store.file_status(f).ok
        path.write_bytes(b"x" * (f.size + 1))
        assert store.file_status(f).size_ok is False and f"expected {f.size} B" in store.file_status(f).problem


def test_unpinned_download_records_its_commit_and_later_ones_reuse_it(hub, tmp_path, capsys):
    """acme/speech is asked for at 'main' (no pin): the lock beside the models records the commit it
    resolved and each file's hash; status shows it; later downloads ask for that commit."""
    import json

    from unitaf_blender.engines import model_lock
    store = st.ModelStore(cache_dir=tmp_path, files=_specs(pin_sha=False))
    store.download(["speech", "face"])
    lock = json.loads((tmp_path / model_lock.LOCK_NAME).read_text(encoding="utf-8"))["repos"]
    assert set(lock) == {"acme/speech"}      # acme/face is pinned to a commit: nothing to record
    assert lock["acme/speech"]["commit"] == COMMIT and lock["acme/speech"]["branch"] == "main"
    assert lock["acme/speech"]["files"]["big.bin"] == {
        "size": 300_000, "sha256": hashlib.sha256(FILES[("acme/speech", "big.bin")]).hexdigest()}
    assert set(lock["acme/speech"]["files"]) == {"big.bin", "sub/dir/small.json"}
    text = setup_commands.format_status(store, ["speech", "face"])
    assert f"acme/speech @ main, locked to {COMMIT} (the commit downloaded; recorded in " in text
    assert f"acme/face @ {COMMIT}" in text
    # the branch ref disappears (or moves): the lock still finds the files of its commit
    os.remove(tmp_path / "models--acme--speech" / "refs" / "main")
    assert store.file_status(store.spec("t.big")).ok
    # a file lost from the cache comes back from the locked commit, not from the branch
    os.remove(store.path("t.big"))
    hub.revisions.clear()
    store.download("speech")
    assert hub.revisions and set(hub.revisions) == {COMMIT}
    # verify checks the lock's hash: a changed file is caught though the catalogue pins none
    entry = json.loads((tmp_path / model_lock.LOCK_NAME).read_text(encoding="utf-8"))
    entry["repos"]["acme/speech"]["files"]["sub/dir/small.json"]["sha256"] = "0" * 64
    (tmp_path / model_lock.LOCK_NAME).write_text(json.dumps(entry), encoding="utf-8")
    problems = {s.spec.id: p for s, p in store.verify("speech")}
    assert problems["t.small"].startswith("sha256 ") and problems["t.big"] == ""
    # a damaged lock pins nothing: back to the branch
    (tmp_path / model_lock.LOCK_NAME).write_text("{not json", encoding="utf-8")
    assert store.locked_commit(store.spec("t.big")) is None
    assert "acme/speech @ main (UNVERIFIED revision" in setup_commands.format_status(store, "speech")


def test_models_licence_prints_the_downloaded_text(tmp_path, capsys):
    spec = {f.id: f for f in catalog.MODEL_FILES}["indextts2.licence"]
    assert cli.run(["models", "licence", "--cache-dir", str(tmp_path)]) == 1
    assert "LICENSE.txt: not downloaded yet" in capsys.readouterr().err
    snap = tmp_path / "models--IndexTeam--IndexTTS-2" / "snapshots" / spec.revision
    snap.mkdir(parents=True)
    (snap / "LICENSE.txt").write_text("bilibili Model Use License Agreement\nterms...\n", encoding="utf-8")
    assert cli.run(["models", "licence", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "IndexTeam/IndexTTS-2/LICENSE.txt" in out and "terms..." in out
    assert f"full text of IndexTeam/IndexTTS-2's licence: {snap / 'LICENSE.txt'}" in setup_commands.format_status(
        st.ModelStore(cache_dir=tmp_path))
