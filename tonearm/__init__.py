"""tonearm: find music and audio by how it sounds, offline, on your own machine."""

__version__ = "0.1.0"
