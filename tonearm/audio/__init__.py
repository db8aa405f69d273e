"""Audio input: decoding any common container to mono float32, and the long-file window policy."""

from tonearm.audio.decode import AUDIO_EXTENSIONS, AudioInfo, load, probe
from tonearm.audio.segments import DecodedAudio, WindowPolicy, load_for_analysis

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioInfo",
    "DecodedAudio",
    "WindowPolicy",
    "load",
    "load_for_analysis",
    "probe",
]
