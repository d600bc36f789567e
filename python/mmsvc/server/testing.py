"""A server in a background thread, for tests and notebooks.

    with ServerThread() as srv:          # 127.0.0.1, an ephemeral port
        client = Client(srv.address)
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from mmsvc.server import start_server, stop_server
from mmsvc.server.limits import Limits


class ServerThread:
    """Run :func:`mmsvc.server.start_server` on its own event loop in a thread."""

    def __init__(self, listen: str = "127.0.0.1:0", *, limits: Limits | None = None,
                 state_dir: Any = None, token: str | None = None,
                 tls: tuple[bytes, bytes] | None = None) -> None:
        self.listen = listen
        self.kwargs = {"limits": limits, "state_dir": state_dir, "token": token, "tls": tls}
        self.port = 0
        self.service: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    @property
    def address(self) -> str:
        return f"{self.listen.rsplit(':', 1)[0]}:{self.port}"

    def start(self) -> ServerThread:
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def main() -> None:
            try:
                self._server, self.port, self.service = await start_server(
                    self.listen, **self.kwargs)
            except BaseException as exc:
                self._error = exc
                raise
            finally:
                self._stop = asyncio.Event()
                self._ready.set()
            await self._stop.wait()
            await stop_server(self._server, 0.5)

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(main())
            except BaseException:  # noqa: BLE001 - reported through _error
                pass
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="mmsvc-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("server did not start in 30 s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is None or self._server is None or self._stop is None:
            return
        self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)
        self._server = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
