"""A TCP proxy of our own in front of the session's HAPI, which a test can cut: `passing`
(bytes relayed both ways), `delaying` (relayed, each request held DELAY_S first: a slower
upstream), `dropping` (each connection accepted, then closed unanswered),
`stalling` (accepted, read, never answered) or `closed` (nothing listens on its port: the
connection is refused). Changing the mode cuts every connection open so far, as an
upstream that dies or hangs mid-session would."""

import contextlib
import socket
import threading
import time
from enum import StrEnum

__all__ = ["DELAY_S", "CutProxy", "Mode"]
DELAY_S = 0.05


class Mode(StrEnum):
    PASSING = "passing"
    DELAYING = "delaying"
    DROPPING = "dropping"
    STALLING = "stalling"
    CLOSED = "closed"


class CutProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.mode = Mode.CLOSED
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()

    def set(self, mode: Mode) -> None:
        with self._lock:
            self.mode = mode
            for sock in self._open:
                _close(sock)
            self._open.clear()
            listener, self._listener = self._listener, None
        if listener is not None and mode is Mode.CLOSED:
            _close(listener)
        elif listener is not None:
            self._listener = listener
        elif mode is not Mode.CLOSED:
            self._listen()

    def stop(self) -> None:
        self.set(Mode.CLOSED)

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                mode = self.mode
                self._open.append(client)
            if mode is Mode.DROPPING:
                _close(client)
            elif mode in (Mode.PASSING, Mode.DELAYING):
                delay = DELAY_S if mode is Mode.DELAYING else 0.0
                threading.Thread(target=self._relay, args=(client, delay), daemon=True).start()
            # STALLING: held open, never answered, closed by the next set()

    def _relay(self, client: socket.socket, delay_s: float) -> None:
        try:
            upstream = socket.create_connection(self._target, timeout=5)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._open.append(upstream)
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream, delay_s)


def _pump(source: socket.socket, sink: socket.socket, delay_s: float = 0.0) -> None:
    try:
        while data := source.recv(65536):
            time.sleep(delay_s)
            sink.sendall(data)
    except OSError:
        pass
    _close(source)
    _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
