"""Versions of a folder library's on-disk format, and the numbered steps that upgrade one.

Why a version at all: a library outlives the tonearm that wrote it. Each format change gets
a number and a migration from the number before; opening a library applies the steps it is
missing, in order, and records the new number only after the last one succeeded, so a crash
mid-upgrade repeats the unfinished step next time (every step is idempotent). A library with a
number above ``FORMAT_VERSION`` was written by a newer tonearm: it is refused before anything
is written, since an older reader could corrupt data it does not understand.

The number lives in ``format.json`` in the library folder (one small file: reading it costs far
less than a query of the ``meta`` table, and every open reads it), replaced atomically. Format 1
(every library written before numbering) has no such file: it is recognised by its ``tracks``
table alone.

Format history:

1. tracks, failures, meta (and later state, ``landmarks/``) tables; core columns grew in place.
2. the number is recorded in ``format.json``; every core column of ``CORE_FIELDS`` exists (columns
   added to the core since a library was made are added, as NULLs).
3. a standardised view's statistics (meta ``normalizer:VIEW``) may carry a discriminant projection,
   and its vectors are then projections (``tonearm.analyzers.normalize``). Nothing to convert: a
   library of format 2 gets the projection at its next index run. The number moves so that an older
   tonearm, which would apply the statistics without the projection to new tracks and queries and
   mix two kinds of vector in one column, refuses the library instead.
4. a view's search column may be shorter than its raw column (a projected view searches its few
   projected numbers; the raw output stays for refits). Nothing to convert here: a library of format 3
   keeps its padded projections until its next index run rewrites them at their own length. An older
   tonearm would take the shorter column for an analyzer change and drop the view, so it must refuse.
5. the ReplayGain core columns (``replaygain_track_gain`` and the rest) exist. They are added as NULLs;
   the tags of unchanged files are read again at the next index run (``tag_recheck.py``), which fills
   them without analysing anything. Without the number, a format-4 library would never get them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Upgradable(Protocol):
    """What the migrations need of a folder library (``LanceStore``)."""

    def add_missing_core_columns(self) -> None: ...


FORMAT_VERSION = 5
FORMAT_FILE = "format.json"


@dataclass(frozen=True)
class Migration:
    """The step that turns a library of format ``version - 1`` into format ``version``."""

    version: int
    summary: str
    apply: Callable[[Upgradable], None]


def _core_columns(store: Upgradable) -> None:
    store.add_missing_core_columns()


def _nothing_to_convert(store: Upgradable) -> None:
    """Formats 3 and 4 change what may be stored, not what is: see the history above."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "record the format version; add core columns missing from older libraries", _core_columns),
    Migration(3, "statistics of standardised views may carry a discriminant projection", _nothing_to_convert),
    Migration(4, "a view's search column may be shorter than its raw column", _nothing_to_convert),
    Migration(5, "add the ReplayGain core columns", _core_columns),
)


def pending(found: int) -> list[Migration]:
    """The steps a library of format ``found`` still needs, in order."""
    return [m for m in MIGRATIONS if m.version > found]
