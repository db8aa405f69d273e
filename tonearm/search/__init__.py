"""Query modes over a library: similar tracks (``similar``), humming (``hum``), text (``text``),
recommendations (``radio``, with ``taste`` reading listening history), and the helpers they share
(``dedupe``: one file per recording; ``hubness``: CSLS re-ranking; ``projection``: the library map).
"""
