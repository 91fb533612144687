"""A raw-socket WebSocket client for tests that must send what no library would."""

import base64
import os
import socket
import struct

from liveserver import timeout


def handshake(server, path, headers=None, key=None, version="13"):
    """Send an upgrade request; return (socket, status code, response head as text)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout(5))
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key or base64.b64encode(os.urandom(16)).decode()}"]
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    status = int(head.split(b" ", 2)[1]) if head else 0
    return sock, status, head.decode("latin-1")


def frame(opcode, payload=b"", fin=True, mask=True, length=None, rsv=0, length_form=None, key=None):
    """Encode one client frame, the only builder the tests have.

    `length` may lie about the payload size; `rsv` is the RSV bits as they stand in the
    first byte (0x40 is RSV1); `length_form` 0, 1 or 2 picks the 7-bit, 16-bit or 64-bit
    length (the shortest that fits when None, or when the one asked cannot hold it);
    `key` is the mask (random when None).
    """
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    mask_bit = 0x80 if mask else 0
    form = length_form if length_form is not None else (0 if n < 126 else 1 if n < 65536 else 2)
    if form == 0 and n < 126:
        head += bytes([mask_bit | n])
    elif form <= 1 and n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = key or os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(sock):
    """Read one server frame: (opcode, payload); (None, b"") at EOF."""
    def exact(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data
    try:
        first, second = exact(2)
        n = second & 0x7F
        if n == 126:
            n = struct.unpack("!H", exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", exact(8))[0]
        return first & 0x0F, exact(n)
    except EOFError:
        return None, b""


def close_code(sock):
    """Read frames until the close frame; return its (code, reason), or (None, "") at EOF."""
    while True:
        opcode, payload = read_frame(sock)
        if opcode is None:
            return None, ""
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            return code, payload[2:].decode()
