"""A virtual loyalty card: our card application behind vpcd's socket protocol (a TCP client).

vpcd (the vsmartcard reader driver loaded by pcscd) listens on port 35963 for "Virtual PCD 00 00".
A card connects to it; frames are a 2-byte big-endian length then the bytes. A 1-byte frame is a
control (0x00 power off, 0x01 power on, 0x02 reset, 0x04 get ATR, answered with the ATR); any other
frame is a command APDU, answered with the response APDU. Connecting inserts the card; closing the
socket removes it. Options make the card misbehave the ways tills meet in stores.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time

from . import apdu
from .apdu import CardData

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963
CONNECT_TIMEOUT = 10.0
MUTE_SECONDS = 2.0  # a mute card answers nothing, then goes away (vpcd would otherwise wait forever)

CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0x00, 0x01, 0x02, 0x04
FOREIGN_AID = bytes.fromhex("A0000000041010")  # a payment card's application
REMOVE = object()  # what CardApplication.process returns when the card leaves in the middle of a command
MUTE = object()  # ... when it does not answer at all


class CardApplication:
    """Our application's logic, independent of the transport: one APDU in, one response out."""

    def __init__(
        self,
        data: CardData | None = None,
        locked: bool | None = None,
        aid: bytes = apdu.AID,
        corrupt_signature: bool = False,
        remove_during_read: bool = False,
        mute: bool = False,
    ):
        self.data = data
        self.locked = data is not None if locked is None else locked
        self.aid = aid
        self.corrupt_signature = corrupt_signature
        self.remove_during_read = remove_during_read
        self.mute = mute
        self.selected = False

    @property
    def state(self) -> int:
        if self.data is None:
            return apdu.STATE_BLANK
        return apdu.STATE_LOCKED if self.locked else apdu.STATE_PERSONALISED

    def reset(self) -> None:
        self.selected = False

    def process(self, command: bytes):
        if self.mute:
            return MUTE
        if len(command) < 4:
            return apdu.response(b"", apdu.SW_WRONG_LENGTH)
        cla, ins, p1, _p2 = command[:4]
        body = command[5 : 5 + command[4]] if len(command) > 5 else b""
        if cla == apdu.CLA_ISO and ins == apdu.INS_SELECT and p1 == 0x04:
            self.selected = body == self.aid
            if not self.selected:
                return apdu.response(b"", apdu.SW_APPLET_NOT_FOUND)
            return apdu.response(bytes([apdu.APP_VERSION, self.state]), apdu.SW_OK)
        if cla != apdu.CLA_PROPRIETARY:
            return apdu.response(b"", apdu.SW_CLA_NOT_SUPPORTED)
        if not self.selected:
            return apdu.response(b"", apdu.SW_NO_APPLICATION_SELECTED)
        if ins == apdu.INS_READ_DATA:
            return self._read()
        if ins == apdu.INS_PERSONALISE:
            return self._personalise(body)
        if ins == apdu.INS_LOCK:
            if self.data is None:
                return apdu.response(b"", apdu.SW_NOT_PERSONALISED)
            self.locked = True
            return apdu.response(b"", apdu.SW_OK)
        return apdu.response(b"", apdu.SW_INS_NOT_SUPPORTED)

    def _read(self):
        if self.remove_during_read:
            return REMOVE
        if self.data is None:
            return apdu.response(b"", apdu.SW_NOT_PERSONALISED)
        raw = bytearray(self.data.encode())
        if self.corrupt_signature:
            raw[-1] ^= 0xFF
        return apdu.response(bytes(raw), apdu.SW_OK)

    def _personalise(self, body: bytes):
        if self.locked:
            return apdu.response(b"", apdu.SW_LOCKED)
        if len(body) != apdu.DATA_LEN:
            return apdu.response(b"", apdu.SW_WRONG_LENGTH)
        try:
            self.data = CardData.decode(body)
        except ValueError:
            return apdu.response(b"", apdu.SW_WRONG_DATA)
        return apdu.response(b"", apdu.SW_OK)


class VirtualCard:
    """Inserts a CardApplication into a vpcd reader; remove() (or leaving the `with`) takes it out."""

    def __init__(
        self, application: CardApplication, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, atr: bytes | None = None
    ):
        self.application = application
        self.host, self.port = host, port
        self.atr = atr or apdu.atr()
        self.sock: socket.socket | None = None
        self.thread: threading.Thread | None = None
        self.gone = threading.Event()  # set when the connection ends, whoever ended it
        # set at vpcd's first frame: vpcd serves one card a reader, and queues a second one unseen
        self.taken = threading.Event()
        self.apdus = 0

    def insert(self, timeout: float | None = None) -> "VirtualCard":
        """Connect to vpcd, retrying until it listens (pcscd may still be starting)."""
        deadline = time.monotonic() + (CONNECT_TIMEOUT if timeout is None else timeout)
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1)
                break
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise ConnectionError(
                        f"no virtual reader (vpcd) listens on {self.host}:{self.port}: "
                        f"is pcscd running with vsmartcard-vpcd installed? ({exc})"
                    ) from None
                time.sleep(0.05)
        sock.settimeout(None)
        # Without these every APDU waits for a delayed ACK (~40-90 ms); QUICKACK is re-armed after each read.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._quickack(sock)
        self.sock = sock
        self.gone.clear()
        self.taken.clear()
        self.thread = threading.Thread(target=self._serve, name=f"virtual-card-{self.port}", daemon=True)
        self.thread.start()
        return self

    def remove(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(5)

    def __enter__(self) -> "VirtualCard":
        return self.insert() if self.sock is None else self

    def __exit__(self, *exc) -> None:
        self.remove()

    @staticmethod
    def _quickack(sock: socket.socket) -> None:
        if hasattr(socket, "TCP_QUICKACK"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    def _recv_exact(self, sock: socket.socket, size: int) -> bytes | None:
        chunks, left = [], size
        while left:
            chunk = sock.recv(left)
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        self._quickack(sock)
        return b"".join(chunks)

    def _send(self, sock: socket.socket, payload: bytes) -> None:
        sock.sendall(len(payload).to_bytes(2, "big") + payload)

    def _serve(self) -> None:
        sock = self.sock
        try:
            while sock is not None:
                header = self._recv_exact(sock, 2)
                if header is None:
                    break
                frame = self._recv_exact(sock, int.from_bytes(header, "big"))
                if frame is None:
                    break
                self.taken.set()
                if len(frame) == 1:
                    if frame[0] == CTRL_ATR:
                        self._send(sock, self.atr)
                    elif frame[0] in (CTRL_RESET, CTRL_OFF, CTRL_ON):
                        self.application.reset()
                    continue
                self.apdus += 1
                answer = self.application.process(frame)
                if answer is MUTE:
                    self.gone.wait(MUTE_SECONDS)
                    break
                if answer is REMOVE:
                    break
                self._send(sock, answer)
        except OSError:
            pass
        finally:
            if self.sock is sock and sock is not None:
                self.sock = None
                sock.close()
            self.gone.set()


def loyalty_card(
    number: str | None, key, issued: dt.date | None = None, generation: int = 1, **misbehaviour
) -> CardApplication:
    """A personalised and locked card signed with `key` (an Ed25519 private key), or a blank one if number is None."""
    from .issuer import sign

    if number is None:
        return CardApplication(None, **misbehaviour)
    data = sign(CardData(number, issued or dt.datetime.now(dt.timezone.utc).date(), generation), key)
    return CardApplication(data, **misbehaviour)
