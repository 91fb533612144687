"""The username rule of the protocol: which strings are names, and when two are one user."""

import functools
import unicodedata

MAX_NAME = 32
# The one wording of the rule, for every refusal.
NAME_RULE = f"1 to {MAX_NAME} letters, digits, '_', '-' or '.', not only dots"


_NAME_PUNCTUATION = frozenset("_-.")


def normalize_name(raw):
    """Return `raw` in NFC if it is a valid username, else None.

    A username is 1 to 32 Unicode letters, digits, '_', '-' or '.', not only dots
    (`/ws/..` would name no user's socket).
    """
    if not isinstance(raw, str):
        return None
    # Every direct message names its recipient: answers for name-sized strings are kept.
    # Longer strings are checked afresh each time, so junk cannot make the cache big.
    return _normalize_name(raw) if len(raw) <= _CACHED_NAME else _check_name(raw)


def _check_name(raw):
    name = unicodedata.normalize("NFC", raw)
    if not 1 <= len(name) <= MAX_NAME:
        return None
    for ch in name:
        if ch not in _NAME_PUNCTUATION and not _is_letter_or_digit(ch):
            return None
    if not name.strip("."):
        return None
    return name


_CACHED_NAME = 4 * MAX_NAME


_normalize_name = functools.lru_cache(maxsize=8192)(_check_name)


def _is_letter_or_digit(ch):
    category = unicodedata.category(ch)
    return category[0] == "L" or category == "Nd"


@functools.lru_cache(maxsize=8192)  # called several times for every message
def name_key(name):
    """The identity of a (normalized) name: names differing only in case are one user."""
    return unicodedata.normalize("NFC", name.casefold())
