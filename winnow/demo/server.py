"""A small static web server for local sites: the demo's and the tests'.

Each site is a folder served on its own 127.0.0.1 port, so each is its own host
as far as the crawler is concerned. `{{BASE}}` in any text file becomes the site's
`http://127.0.0.1:PORT`, so feeds and sitemaps can hold absolute URLs. A path
ending in '/' serves its `index.html`. `routes` override paths with handlers for
special responses (status codes, slow bodies, redirects) in tests.
"""

from __future__ import annotations

import mimetypes
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

TEXT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}

#: A route handler gets the request handler and writes the whole response itself.
Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Site:
    """One served site: where its files are and the URL it is reachable at."""

    name: str
    root: Path | None
    routes: Mapping[str, Route] = field(default_factory=dict)
    base: str = ""
    server: ThreadingHTTPServer | None = None
    hits: dict[str, int] = field(default_factory=dict)
    #: Seconds to wait before answering each request (a slow site, for crash tests).
    delay: float = 0.0

    def url(self, path: str = "/") -> str:
        return self.base + path


def _handler_for(site: Site) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            with lock:
                site.hits[path] = site.hits.get(path, 0) + 1
            if site.delay:
                time.sleep(site.delay)
            route = site.routes.get(path)
            if route is not None:
                route(self)
                return
            body, ctype = self._file(path)
            if body is None:
                self.send_bytes(
                    404, b"<html><body><h1>Not Found</h1></body></html>", "text/html; charset=utf-8"
                )
                return
            self.send_bytes(200, body, ctype)

        def _file(self, path: str) -> tuple[bytes | None, str]:
            if site.root is None:
                return None, ""
            rel = path.lstrip("/")
            if not rel or rel.endswith("/"):
                rel += "index.html"
            target = (site.root / rel).resolve()
            if site.root.resolve() not in target.parents or not target.is_file():
                return None, ""
            data = target.read_bytes()
            ctype = (
                TEXT_TYPES.get(target.suffix)
                or mimetypes.guess_type(target.name)[0]
                or "application/octet-stream"
            )
            if target.suffix in TEXT_TYPES:
                data = data.replace(b"{{BASE}}", site.base.encode())
            return data, ctype

        def send_bytes(
            self, status: int, body: bytes, ctype: str, headers: Mapping[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serve(sites: list[Site]) -> Iterator[dict[str, Site]]:
    """Serve each site on its own free 127.0.0.1 port for the duration of the block."""
    threads = []
    try:
        for site in sites:
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(site))
            server.daemon_threads = True
            site.server = server
            site.base = f"http://127.0.0.1:{server.server_address[1]}"
            thread = threading.Thread(
                target=server.serve_forever, name=f"site-{site.name}", daemon=True
            )
            thread.start()
            threads.append(thread)
        yield {site.name: site for site in sites}
    finally:
        for site in sites:
            if site.server is not None:
                site.server.shutdown()
                site.server.server_close()
