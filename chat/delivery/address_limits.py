"""The per-address limits: what one client address may open, send and create, all its users together.

The client address is Flask's `request.remote_addr`: the peer's, or the one the
trusted proxies report (CHAT_TRUSTED_PROXIES). Addresses in CHAT_LIMIT_EXEMPT
are not limited here. Connections and the message bucket are counted by each
process, like the per-user limits; new accounts are counted in the store, so
every worker and host shares that count.
"""

import collections
import ipaddress

from .rate_limits import TokenBuckets


class AddressLimits:
    """Open connections, stored events and new accounts per client address."""

    def __init__(self, settings):
        self.settings = settings
        self._exempt = settings.limit_exempt
        self._open = collections.Counter()  # address -> connections open here
        self._events = TokenBuckets(settings.address_rate_per_second, settings.address_rate_burst)

    def exempt(self, address):
        """True when CHAT_LIMIT_EXEMPT covers `address` (a peer without an address never is)."""
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:127.0.0.1 on a dual-stack listener
        return any(ip in network for network in self._exempt)

    def hold_connection(self, address):
        """A held place for one more connection from `address`; None past
        CHAT_MAX_CONNECTIONS_PER_ADDRESS. Release it once the connection is closed."""
        if self.exempt(address):
            return _Held(self, address, counted=False, exempt=True)
        if self._open[address] >= self.settings.max_connections_per_address:
            return None
        self._open[address] += 1
        return _Held(self, address, counted=True, exempt=False)

    def _release(self, address):
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def take_event(self, address, exempt=None):
        """Count one stored event (a message) from `address`; False when its bucket is empty.

        `exempt` is what `exempt(address)` said, for a caller that remembers it (a
        connection asks once, not for every message)."""
        return (self.exempt(address) if exempt is None else exempt) or self._events.take(address)

    def accounts_per_hour(self, address):
        """New accounts `address` may make in an hour; None when it is exempt."""
        return None if self.exempt(address) else self.settings.accounts_per_address


class _Held:
    """One held connection place for `address` (`exempt`: whether CHAT_LIMIT_EXEMPT covers
    it); `release()` gives it back, once however often it is called."""

    __slots__ = ("_limits", "address", "_counted", "exempt")

    def __init__(self, limits, address, counted, exempt):
        self._limits, self.address, self._counted, self.exempt = limits, address, counted, exempt

    def release(self):
        """Give the place back (the connection closed, or never opened)."""
        if self._counted:
            self._counted = False
            self._limits._release(self.address)  # pylint: disable=protected-access


NOT_HELD = _Held(None, None, counted=False, exempt=False)  # a connection nothing counts (in-process tests)
