"""Query modes over a library: similar-by-example now; more modes plug in beside it."""

from tonearm.search.similar import SimilarQuery, similar

__all__ = ["SimilarQuery", "similar"]
