"""AddressLimits in-process: the exemption, held connection places, the shared bucket."""

from chat.delivery.address_limits import AddressLimits
from chat.settings import Settings, from_environ


def test_exemption_covers_listed_networks_and_mapped_addresses():
    """Loopback by default, in IPv4, IPv6 and IPv4-mapped form; a missing address never."""
    limits = AddressLimits(Settings())
    assert limits.exempt("127.0.0.1") and limits.exempt("127.9.9.9") and limits.exempt("::1")
    assert limits.exempt("::ffff:127.0.0.1")
    assert not limits.exempt("203.0.113.1") and not limits.exempt(None) and not limits.exempt("")
    assert limits.accounts_per_hour("127.0.0.1") is None and limits.accounts_per_hour("203.0.113.1") == 10
    assert not AddressLimits(from_environ({"CHAT_LIMIT_EXEMPT": ""})).exempt("127.0.0.1")


def test_a_held_place_is_given_back_once():
    """Past the limit nothing is held; releasing twice frees one place, not two."""
    limits = AddressLimits(Settings(max_connections_per_address=2))
    first, second = limits.hold_connection("203.0.113.1"), limits.hold_connection("203.0.113.1")
    assert limits.hold_connection("203.0.113.1") is None
    assert limits.hold_connection("203.0.113.2") is not None
    first.release()
    first.release()
    third = limits.hold_connection("203.0.113.1")
    assert third is not None and limits.hold_connection("203.0.113.1") is None
    second.release()
    third.release()
    assert all(limits.hold_connection("127.0.0.1") is not None for _ in range(5))


def test_the_event_bucket_is_the_addresses():
    """Each address has its own burst; exempt addresses are never counted."""
    limits = AddressLimits(Settings(address_rate_per_second=0.001, address_rate_burst=3))
    assert [limits.take_event("203.0.113.1") for _ in range(4)] == [True, True, True, False]
    assert limits.take_event("203.0.113.2")
    assert all(limits.take_event("::1") for _ in range(10))
