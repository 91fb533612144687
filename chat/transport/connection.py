"""What a connection offers the delivery code: the one interface of WebSockets and event streams.

The router, the registry and the fan-out only ever use what `Connection` lists,
so a new transport needs nothing else of them.
"""

import enum
from typing import Callable, Optional, Protocol

from ..protocol.outgoing import Outgoing


class State(enum.Enum):
    """Where a connection is in its life; it only ever moves forward."""

    CONNECTING = "connecting"  # the handshake is not answered yet
    OPEN = "open"  # frames flow both ways
    CLOSING = "closing"  # our close frame is queued; the peer's is awaited
    CLOSED = "closed"  # nothing more is read or queued; what was queued may still be flushed


class Connection(Protocol):
    """One client connection, as the delivery code sees it.

    `on_close(connection)` is called once, when the connection leaves OPEN, always on a
    greenlet of its own: a close may come from the gevent loop itself, where the
    callback (which may ask Redis who is still online) must not wait.
    """

    transport: str  # "ws" or "sse": the label of its metrics
    state: State
    close_code: Optional[int]
    on_close: Optional[Callable[["Connection"], None]]

    @property
    def closed(self) -> bool:
        """True once the connection left OPEN."""

    def send(self, outgoing: Outgoing) -> bool:
        """Queue a frame; False when it was not queued (closed, or the queue limit hit)."""

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with `code` and `reason` after what is queued (4001 drops what is queued)."""
