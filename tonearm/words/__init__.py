"""Words: what is said or sung in a track (transcripts, lyrics), embedded for search, and its emotions."""
