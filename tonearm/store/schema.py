"""Names of what a library stores beyond the core columns: shared by the index job and the queries.

The library package writes these fields and meta keys and the search package reads them; both
import the names from here (below both), so neither needs the other.
"""

from __future__ import annotations

# Columns.
DUP_FIELD = "dup_group"  # id of the copy kept when one recording is in several files

# Views (vector columns are vec_<view>).
FINGERPRINT_VIEW = "fingerprint"  # Chromaprint statistics: proposes duplicate candidates
MOOD_VIEW = "mood"  # emotion profile of a track's words
LANDMARK_VIEW = "landmarks"  # spectral peaks for identifying excerpts (no vector: the postings index)
LANDMARK_KEY = "ana_landmarks_key"  # analyzer and digest of a row's peaks: what its postings were made from

# Meta keys (JSON values kept with the library).
LANGUAGES_META = "words_languages"  # languages of the library's transcripts, e.g. ["en", "es"]
VOCAB_META = "emotion_vocabulary"  # the emotion terms in use (grows with an LLM backend)
HISTORY_META = "listening_history"  # {"tracks": {id: {"plays": n, "last": epoch}}, "unmatched": n}
