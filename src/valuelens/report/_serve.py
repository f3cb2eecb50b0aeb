"""`valuelens view --serve`: the runs index on a local web server (127.0.0.1 only).

The index is rendered again on every visit, so new runs appear on reload. `/compare?run=A&run=B`
renders a report of the chosen runs (paths relative to the root) on demand; every other path is
a file under the root (reports, figures, tables), never outside it.
"""

from __future__ import annotations

import tempfile
import threading
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from valuelens._errors import ValuelensError
from valuelens.report._index import render_index

LOCALHOST = "127.0.0.1"


class _Handler(SimpleHTTPRequestHandler):
    """Static files under the root, plus the live index and on-demand comparisons."""

    def __init__(self, *args: Any, root: Path, scratch: Path, **kwargs: Any) -> None:
        self.root = root
        self.scratch = scratch
        super().__init__(*args, directory=str(root), **kwargs)

    def do_GET(self) -> None:
        """Serve `/` and `/index.html` live, `/compare` on demand, anything else from disk."""
        url = urlsplit(self.path)
        if url.path in ("/", "/index.html"):
            self._send_html(render_index(self.root, served=True))
        elif url.path == "/compare":
            self._compare(parse_qs(url.query).get("run", []))
        else:
            super().do_GET()

    def _compare(self, paths: list[str]) -> None:
        from valuelens.report._html import render_report  # the report stack only when asked

        run_dirs = [self._inside_root(p) for p in paths]
        if not run_dirs or any(d is None for d in run_dirs):
            self.send_error(HTTPStatus.BAD_REQUEST, "choose runs from the index")
            return
        out = self.scratch / "comparison.html"
        try:
            render_report([d for d in run_dirs if d is not None], out)
        except ValuelensError as exc:
            self.send_error(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc))
            return
        self._send_html(out.read_text(encoding="utf-8"))

    def _inside_root(self, relative: str) -> Path | None:
        candidate = (self.root / relative).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            return None
        return candidate if candidate.is_dir() else None

    def _send_html(self, html: str) -> None:
        body = html.encode("utf-8")
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the terminal shows the address, not every request."""


class IndexServer:
    """A running index server; use as a context manager or call `close()`.

    Example:
        >>> with IndexServer(Path("runs")) as server:  # doctest: +SKIP
        ...     print(server.url)
        http://127.0.0.1:8765/
    """

    def __init__(self, root: Path, port: int = 0) -> None:
        """Bind to 127.0.0.1:`port` (0 picks a free port) and start serving in a thread."""
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise ValuelensError(f"{root} is not a folder of runs")
        self._scratch = tempfile.TemporaryDirectory(prefix="valuelens-view-")
        handler = partial(_Handler, root=self.root, scratch=Path(self._scratch.name))
        try:
            self._server = ThreadingHTTPServer((LOCALHOST, port), handler)
        except OSError as exc:
            self._scratch.cleanup()
            raise ValuelensError(f"cannot listen on {LOCALHOST}:{port}: {exc.strerror}") from None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The index's address."""
        return f"http://{LOCALHOST}:{self._server.server_address[1]}/"

    def close(self) -> None:
        """Stop serving and remove the on-demand comparisons."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._scratch.cleanup()

    def __enter__(self) -> IndexServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
