"""Downloadable natural voices go through the shared model store: the licence is shown, the network
is used only when allowed, the sha256 is checked, cancel leaves nothing, and the downloaded voice
speaks. A local fake Hub serves the bundled voice's bytes under the name of a downloadable one
(tests never touch the network)."""
import hashlib
import threading
from dataclasses import replace

import pytest
from fake_hub import serve_fake_hub

from unitaf_blender import cli
from unitaf_blender.engines import Cancelled, EngineError, GenerateRequest
from unitaf_blender.engines.embedded import natural, voice_catalog
from unitaf_blender.engines.embedded.engine import EmbeddedEngine
from unitaf_blender.engines.model_download import DownloadError
from unitaf_blender.engines.model_store import ModelsMissing

pytest.importorskip("onnxruntime")
pytest.importorskip("hibari")

COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
EMMA = "voices/bf_emma.int8.onnx"


@pytest.fixture(scope="module")
def model_bytes():
    with open(natural.bundled_model_path(), "rb") as f:
        return f.read()


@pytest.fixture
def hub(monkeypatch, model_bytes):
    spec = replace(voice_catalog.download_spec("emma"), size=len(model_bytes),
                   sha256=hashlib.sha256(model_bytes).hexdigest())
    monkeypatch.setattr(voice_catalog, "DOWNLOADABLE", (spec,))
    yield from serve_fake_hub(monkeypatch, {(voice_catalog.HIBARI_REPO, EMMA): model_bytes}, COMMIT)


def test_a_missing_voice_says_how_to_get_it(hub, tmp_path):
    with pytest.raises(EngineError, match=r"natural voice file\(s\) missing.*`voices download emma`") as err:
        EmbeddedEngine().check(GenerateRequest(text="Hello.", voice="hibari:emma", options={"cache_dir": str(tmp_path)}))
    assert isinstance(err.value, ModelsMissing) and EMMA in str(err.value)
    store = voice_catalog.voice_store(cache_dir=tmp_path)
    with pytest.raises(ModelsMissing, match="Allow Online Access"):
        store.download(["emma"], allow_network=False)
    assert cli.run(["voices", "download", "emma", "--cache-dir", str(tmp_path), "--offline"]) == 1
    assert hub.log == []


def test_cli_download_shows_the_licence_and_the_voice_then_speaks(hub, tmp_path, capsys):
    assert cli.run(["voices", "download", "hibari:emma", "--cache-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "Apache-2.0" in err and "maureesewilliams/hibari" in err and "voices/bf_emma.int8.onnx" in err
    p = EmbeddedEngine().generate(GenerateRequest(text="Hello there.", voice="hibari:emma",
                                                  options={"cache_dir": str(tmp_path)}))
    assert p.meta["voice"] == "hibari:emma" and p.meta["language"] == "en"     # British G2P
    assert p.phonemes[-1].end == p.audio_seconds
    hub.log.clear()
    assert cli.run(["voices", "download", "emma", "--cache-dir", str(tmp_path)]) == 0
    assert hub.log == []                                                         # present: not fetched again
    assert cli.run(["voices", "download", "heart", "--cache-dir", str(tmp_path)]) == 2   # built in


def test_a_corrupted_download_is_refused_and_removed(hub, tmp_path):
    hub.corrupt.add(EMMA)
    store = voice_catalog.voice_store(cache_dir=tmp_path)
    with pytest.raises(DownloadError, match="does not check out"):
        store.download(["emma"])
    assert not store.file_status(store.spec("hibari.emma")).present


def test_cancel_leaves_nothing_that_looks_complete(hub, tmp_path, monkeypatch):
    import huggingface_hub.constants as hc
    monkeypatch.setattr(hc, "DOWNLOAD_CHUNK_SIZE", 256 * 1024)
    cancel = threading.Event()
    store = voice_catalog.voice_store(cache_dir=tmp_path)

    def stop(progress):
        if progress.file_done > 0:
            cancel.set()

    with pytest.raises(Cancelled):
        store.download(["emma"], progress=stop, cancel=cancel)
    assert not store.file_status(store.spec("hibari.emma")).present
