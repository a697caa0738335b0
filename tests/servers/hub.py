"""A local server that answers file downloads like the Hugging Face Hub (point ``HF_ENDPOINT`` at it).

``HEAD`` and ``GET /datasets/OWNER/NAME/resolve/REVISION/PATH`` serve the files it was given,
with the headers huggingface_hub's ``hf_hub_download`` reads (``X-Repo-Commit``, ``ETag``,
``Content-Length``); an unknown repository, revision or file answers 404 with the Hub's
``X-Error-Code``. Every request is logged with its ``Authorization`` header.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """``files``: ``{"OWNER/NAME": {"PATH": bytes}}`` for datasets, at revision ``main`` (or any
    revision in ``revisions``). ``requests``: ``(method, path, authorization)`` in arrival order."""

    def __init__(self, files: dict[str, dict[str, bytes]], revisions: tuple[str, ...] = ("main",)):
        self.files, self.revisions = files, revisions
        self.requests: list[tuple[str, str, str | None]] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self):
                hub.answer(self, body=False)

            def do_GET(self):
                hub.answer(self, body=True)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, handler: http.server.BaseHTTPRequestHandler, body: bool) -> None:
        self.requests.append((handler.command, handler.path, handler.headers.get("authorization")))
        parts = unquote(handler.path.split("?")[0]).strip("/").split("/")
        repo = "/".join(parts[1:3])
        content, code = None, "RepoNotFound"
        if parts[:1] == ["datasets"] and len(parts) >= 6 and parts[3] == "resolve" and repo in self.files:
            revision, path = parts[4], "/".join(parts[5:])
            code = "RevisionNotFound" if revision not in self.revisions else "EntryNotFound"
            content = self.files[repo].get(path) if revision in self.revisions else None
        if content is None:
            handler.send_response(404)
            handler.send_header("X-Error-Code", code)
            handler.send_header("X-Repo-Commit", COMMIT)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("X-Repo-Commit", COMMIT)
        handler.send_header("ETag", f'"{hashlib.sha256(content).hexdigest()}"')
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        if body:
            handler.wfile.write(content)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
