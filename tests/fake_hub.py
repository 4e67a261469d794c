"""A fake Hugging Face Hub for download tests: a tiny HTTP server on 127.0.0.1 that answers the
file-resolve protocol (`HEAD/GET /{repo}/resolve/{revision}/{filename}` with ETag, X-Repo-Commit,
Content-Length and Range). Nothing touches the real network."""
import hashlib
import http.server
import threading
import urllib.parse

import pytest


class FakeHub(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files, commit):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = files         # (repo, filename) -> content
        self.commit = commit       # the commit "main" resolves to
        self.cut_once = set()      # filenames whose first GET is cut half way
        self.corrupt = set()       # filenames served with wrong bytes of the right length
        self.log = []              # (method, filename, Range header)
        self.revisions = []        # the revision of every request

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _lookup(self):
        path = urllib.parse.urlsplit(self.path).path
        if "/resolve/" not in path:
            return None
        repo, rest = path.lstrip("/").split("/resolve/", 1)
        revision, _, filename = rest.partition("/")
        repo, revision, filename = (urllib.parse.unquote(x) for x in (repo, revision, filename))
        self.server.revisions.append(revision)
        data = self.server.files.get((repo, filename))
        if data is None or revision not in ("main", self.server.commit):
            return None
        return filename, data

    def _headers(self, filename, data, status, length, extra=()):
        self.send_response(status)
        lfs = len(data) > 1000  # big files behave like Git-LFS: ETag = sha256 of the content
        etag = hashlib.sha256(data).hexdigest() if lfs else hashlib.sha1(data).hexdigest()
        self.send_header("ETag", f'"{etag}"')
        if lfs:
            self.send_header("X-Linked-Etag", f'"{etag}"')
            self.send_header("X-Linked-Size", str(len(data)))
        self.send_header("X-Repo-Commit", self.server.commit)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()

    def _missing(self):
        self.send_response(404)
        self.send_header("X-Error-Code", "EntryNotFound")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):
        found = self._lookup()
        hub = self.server
        hub.log.append(("HEAD", found and found[0], None))
        if not found:
            return self._missing()
        filename, data = found
        self._headers(filename, data, 200, len(data))

    def do_GET(self):
        found = self._lookup()
        hub = self.server
        rng = self.headers.get("Range")
        hub.log.append(("GET", found and found[0], rng))
        if not found:
            return self._missing()
        filename, data = found
        if filename in hub.corrupt:
            data = bytes(b ^ 0x5A for b in data)
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        body = data[start:]
        if rng:
            self._headers(filename, data, 206, len(body),
                          [("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")])
        else:
            self._headers(filename, data, 200, len(body))
        if filename in hub.cut_once:
            hub.cut_once.discard(filename)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # drop the connection mid-body
            return
        self.wfile.write(body)


def serve_fake_hub(monkeypatch, files, commit):
    """A generator for a pytest fixture: starts a FakeHub serving `files`, points
    huggingface_hub at it (HF_ENDPOINT), yields it and shuts it down."""
    pytest.importorskip("huggingface_hub")
    import huggingface_hub.file_download as fd
    server = FakeHub(files, commit)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(fd.time, "sleep", lambda s: None)  # the hub's retry back-off; keep the test fast
    yield server
    server.shutdown()
    server.server_close()


