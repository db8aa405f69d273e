"""Exceptions that carry a message meant for the user.

Everything a user can cause (a bad file, a bad filter, a missing track) raises a
``TonearmError`` subclass; the CLI prints its message on one line instead of a traceback.
"""


class TonearmError(Exception):
    """Base class for errors whose message is shown to the user as-is."""


class DecodeError(TonearmError):
    """The file is not audio we can decode (empty, truncated, corrupt, wrong format)."""


class FilterError(TonearmError):
    """A ``--where`` expression is malformed or names an unknown field."""


class NotFoundError(TonearmError):
    """A track id or path that the library does not contain."""


class LibraryLockedError(TonearmError):
    """Another process holds the library's write lock."""
