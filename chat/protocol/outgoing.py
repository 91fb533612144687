"""An outgoing server frame, encoded once however many connections get it.

The router builds one `Outgoing` per event and hands the same object to every
connection: a WebSocket sends `websocket_frame`, an event stream `sse_event`.
Each is built the first time a connection of its kind asks, then kept.
"""

import orjson

from .websocket_framing import text_frame


def sse_event(kind, data, event_id=None):
    """One Server-Sent Event: `event:`, `id:` when it has one, `data:` (JSON has no raw newlines)."""
    head = f"event: {kind}\nid: {event_id}\n" if event_id is not None else f"event: {kind}\n"
    return head.encode() + b"data: " + data + b"\n\n"


class Outgoing:
    """A server frame's JSON (`data`), its `kind` (the frame's type) and, for stored events, its id."""

    # Slots and plain properties, not functools.cached_property (whose lookup is Python
    # code on every ask): one of these is built and sent for every event.
    __slots__ = ("data", "kind", "event_id", "_websocket_frame", "_sse_event")

    def __init__(self, data, kind, event_id=None):
        self.data = data
        self.kind = kind
        self.event_id = event_id
        self._websocket_frame = self._sse_event = None

    @classmethod
    def of(cls, frame):
        """The Outgoing of a server frame (a dict); a stored event's id becomes its event id."""
        return cls(orjson.dumps(frame), frame["type"], frame.get("id"))

    @property
    def websocket_frame(self):
        """The frame as a WebSocket text frame."""
        if self._websocket_frame is None:
            self._websocket_frame = text_frame(self.data)
        return self._websocket_frame

    @property
    def sse_event(self):
        """The frame as a Server-Sent Event, with an `id:` line when it is a stored event."""
        if self._sse_event is None:
            self._sse_event = sse_event(self.kind, self.data, self.event_id)
        return self._sse_event
