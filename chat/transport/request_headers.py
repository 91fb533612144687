"""Request headers for gevent's WSGI handler, read without the email package.

gevent parses headers with `http.client.parse_headers`, which runs the email
parser: a large share of the cost of a whole WebSocket handshake. `RequestHeaders`
reads the same lines under the same limits (a line, the number of headers) and
offers what the handler uses of the result. It is stricter where the email
parser guesses: a line that is not `name: value` makes the request a 400.
"""

MAX_LINE = 65536  # as http.client
MAX_HEADERS = 100
_END = (b"\r\n", b"\n", b"")


class RequestHeaders:
    """The header section of one request; `status` is non-empty when it is malformed."""

    __slots__ = ("status", "_pairs")

    def __init__(self, fp, *_):
        self.status = ""
        self._pairs = []  # (name, value), in the order received
        self._read(fp)

    def _read(self, fp):
        for _ in range(MAX_HEADERS + 1):
            line = fp.readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                self.status = "Line too long"
                return
            if line in _END:
                return
            text = line.decode("iso-8859-1").rstrip("\r\n")
            if text[:1] in (" ", "\t"):  # an obsolete folded line continues the last value
                if not self._pairs:
                    self.status = "Header starts with a continuation line"
                    return
                name, value = self._pairs[-1]
                self._pairs[-1] = (name, f"{value} {text.strip()}")
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or " " in name or "\t" in name:
                self.status = "Malformed header line"
                return
            self._pairs.append((name, value.strip()))
        self.status = f"More than {MAX_HEADERS} headers"

    def get(self, name, default=None):
        """The first value of header `name` (any case), or `default`."""
        name = name.lower()
        for key, value in self._pairs:
            if key.lower() == name:
                return value
        return default

    getheader = get

    def __delitem__(self, name):
        name = name.lower()
        self._pairs = [(key, value) for key, value in self._pairs if key.lower() != name]

    @property
    def headers(self):
        """Each header as the line 'Name: value\\r\\n', as gevent builds the environ from."""
        return [f"{key}: {value}\r\n" for key, value in self._pairs]

    @property
    def typeheader(self):
        """The Content-Type, or None."""
        return self.get("content-type")
