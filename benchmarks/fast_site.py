"""A fast static site for the benchmarks: every file read once, answered from memory.

winnow.demo.server reads each file again per request, in a thread per connection:
right for the demo and the tests, but it costs the machine about 0.3 ms of CPU per
page, which a crawl measured on the same cores then cannot use (a news site is on
another machine). This server answers keep-alive HTTP/1.1 GETs from one asyncio loop
with responses built in advance, for a fraction of that.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from winnow.demo.server import TEXT_TYPES

NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def response(body: bytes, content_type: str) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def folder_responses(root: Path, base: str) -> dict[bytes, bytes]:
    """A folder's files by URL path, as winnow.demo.server serves them ({{BASE}} filled in)."""
    responses = {}
    for file in root.rglob("*"):
        if not file.is_file() or file.suffix not in TEXT_TYPES:
            continue
        body = file.read_bytes().replace(b"{{BASE}}", base.encode())
        path = "/" + file.relative_to(root).as_posix()
        if path.endswith("/index.html"):
            path = path[: -len("index.html")]
        responses[path.encode()] = response(body, TEXT_TYPES[file.suffix])
    return responses


class _Http(asyncio.Protocol):
    def __init__(self, responses: dict[bytes, bytes]) -> None:
        self.responses = responses
        self.buffer = b""

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:  # GETs: no request bodies
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            request_line, _, headers = head.partition(b"\r\n")
            target = request_line.split(b" ")[1] if request_line.count(b" ") >= 2 else b"/"
            self.transport.write(self.responses.get(target.split(b"?")[0], NOT_FOUND))
            if b"connection: close" in headers.lower():
                self.transport.close()
                return


@contextmanager
def serve_folder(root: Path) -> Iterator[str]:
    """Serve `root` on a free 127.0.0.1 port for the duration of the block; yields its base URL."""
    loop = asyncio.new_event_loop()
    responses: dict[bytes, bytes] = {}
    server = loop.run_until_complete(loop.create_server(lambda: _Http(responses), "127.0.0.1", 0))
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    responses.update(folder_responses(root, base))
    thread = threading.Thread(target=loop.run_forever, name="fast-site", daemon=True)
    thread.start()
    try:
        yield base
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        server.close()
        loop.close()
