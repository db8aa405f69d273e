"""Names of what a library stores beyond the core columns: shared by the index job and the queries.

The library package writes these fields and meta keys and the search package reads them; both
import the names from here (below both), so neither needs the other.
"""

from __future__ import annotations

# Meta keys (JSON values kept with the library).
LANGUAGES_META = "words_languages"  # languages of the library's transcripts, e.g. ["en", "es"]
