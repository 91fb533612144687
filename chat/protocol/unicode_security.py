"""Unicode's security mechanisms (UTS #39) for names, and text that shows nothing.

Pure functions over ICU's data (PyICU, on the system's ICU): no table here is
written by hand, so each Unicode release ICU ships is followed as it comes.
"""

import functools

import icu

# The Hangul fillers render as blank space but are letters (Lo) to Unicode's categories;
# they are also default-ignorable, so the one property below covers them.
_IGNORABLE = icu.UProperty.DEFAULT_IGNORABLE_CODE_POINT
_WHITE_SPACE = icu.UProperty.WHITE_SPACE
_FOLD = icu.Normalizer2.getNFKCCasefoldInstance()


def _checker():
    checker = icu.SpoofChecker()
    checker.setChecks(icu.USpoofChecks.RESTRICTION_LEVEL | icu.USpoofChecks.MIXED_NUMBERS)
    checker.setRestrictionLevel(icu.URestrictionLevel.HIGHLY_RESTRICTIVE)
    return checker


_CHECKER = _checker()


@functools.lru_cache(maxsize=4096)  # one lookup per character of most messages
def _shows_nothing(ch):
    if icu.Char.hasBinaryProperty(ch, _IGNORABLE) or icu.Char.hasBinaryProperty(ch, _WHITE_SPACE):
        return True
    return icu.Char.charType(ch) in (icu.UCharCategory.CONTROL_CHAR, icu.UCharCategory.FORMAT_CHAR)


def is_blank(text):
    """True when `text` has no visible character: only white space, controls, format
    characters and default-ignorable code points (the Hangul fillers among them)."""
    return all(_shows_nothing(ch) for ch in text)


def skeleton(name):
    """The UTS #39 skeleton of `name`'s NFKC case fold: two names that look alike have the same."""
    return _CHECKER.getSkeleton(0, _FOLD.normalize(name))


def new_name_problem(name):
    """Why `name` (a valid username) may not be taken by a new account, or None.

    Names mixing scripts beyond UTS #39's highly restrictive level (Latin with Han and
    Kana passes, Latin with Cyrillic does not), and names holding a character that shows
    nothing, are refused: each can pass for another name.
    """
    if any(_shows_nothing(ch) for ch in name):
        return "holds a character that shows nothing"
    if _CHECKER.check(name):
        return "mixes scripts (or digits of different systems) that can pass for another name"
    return None
