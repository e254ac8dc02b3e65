"""A websocket client that shows everything: every frame with its arrival time, how the TCP
connection ended, and pongs only when we choose to send them.

Built on websockets' Sans-I/O ``ClientProtocol`` over plain asyncio streams, so a test can see
the server's pings (a normal client answers them silently), stay silent to provoke a pong
timeout, and tell a TCP reset from a clean end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

RESET = "reset"
EOF = "eof"


class HandshakeFailed(Exception):
    """The server answered the opening handshake with something other than 101."""

    def __init__(self, status: int) -> None:
        super().__init__(f"handshake answered {status}")
        self.status = status


@dataclass(frozen=True)
class Received:
    """One frame and when it arrived."""

    at: float  #: time.monotonic() on arrival
    frame: Frame

    @property
    def text(self) -> str:
        return bytes(self.frame.data).decode()


class Ended(Exception):
    """The connection ended: ``how`` is ``reset`` or ``eof``."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


class RawClient:
    """One connection: frames are read in the background and queued for :meth:`next`."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        protocol: ClientProtocol,
        answer_pings: bool,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._protocol = protocol
        self.answer_pings = answer_pings
        self.frames: list[Received] = []
        self._queue: asyncio.Queue[Received | Ended] = asyncio.Queue()
        self.ended: str | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, url: str, answer_pings: bool = True, timeout: float = 3.0) -> RawClient:
        """Open a connection and complete the handshake; raises ``HandshakeFailed`` if refused."""
        uri = parse_uri(url)
        reader, writer = await asyncio.open_connection(uri.host, uri.port)
        protocol = ClientProtocol(uri)
        protocol.send_request(protocol.connect())
        writer.write(b"".join(protocol.data_to_send()))
        client = cls(reader, writer, protocol, answer_pings)
        try:
            await asyncio.wait_for(client._handshake(), timeout)
        except BaseException:
            writer.close()
            raise
        client._task = asyncio.create_task(client._pump())
        return client

    async def _handshake(self) -> None:
        while True:
            data = await self._reader.read(65536)
            if not data:
                raise Ended(EOF)
            now = time.monotonic()
            self._protocol.receive_data(data)
            events = self._protocol.events_received()
            for index, event in enumerate(events):
                if isinstance(event, Response):
                    if event.status_code != 101:
                        raise HandshakeFailed(event.status_code)
                    for frame in events[index + 1 :]:
                        assert isinstance(frame, Frame)
                        self._record(Received(now, frame))
                    return

    async def _pump(self) -> None:
        how = EOF
        try:
            while True:
                data = await self._reader.read(65536)
                now = time.monotonic()
                if not data:
                    break
                self._protocol.receive_data(data)
                for event in self._protocol.events_received():
                    assert isinstance(event, Frame)  # after the handshake: frames only
                    self._record(Received(now, event))
                outgoing = self._protocol.data_to_send()
                if self.answer_pings:
                    self._writer.write(b"".join(outgoing))
        except ConnectionResetError:
            how = RESET
        self.ended = how
        self._queue.put_nowait(Ended(how))

    def _record(self, received: Received) -> None:
        self.frames.append(received)
        self._queue.put_nowait(received)

    async def next(self, timeout: float = 2.0, kinds: tuple[Opcode, ...] = ()) -> Received:
        """The next frame (of one of ``kinds`` if given); raises ``Ended`` or ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        while True:
            item = await asyncio.wait_for(self._queue.get(), max(0.0, deadline - time.monotonic()))
            if isinstance(item, Ended):
                self._queue.put_nowait(item)
                raise item
            if not kinds or item.frame.opcode in kinds:
                return item

    async def texts(self, count: int, timeout: float = 3.0) -> list[str]:
        return [(await self.next(timeout, (Opcode.TEXT,))).text for _ in range(count)]

    async def wait_ended(self, timeout: float) -> str:
        """How the connection ended, waiting at most ``timeout`` seconds."""
        while True:
            try:
                await self.next(timeout)
            except Ended as ended:
                return ended.how

    def send_text(self, text: str) -> None:
        self._protocol.send_text(text.encode())
        self._writer.write(b"".join(self._protocol.data_to_send()))

    def send_ping(self, data: bytes) -> None:
        self._protocol.send_ping(data)
        self._writer.write(b"".join(self._protocol.data_to_send()))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()

    def frames_of(self, opcode: Opcode) -> list[Received]:
        return [item for item in self.frames if item.frame.opcode is opcode]
