"""The phones' "voice": a short, recognisable signal a phone plays into every answered call.

Rules of this module:
- Pure stdlib (``wave``); no pjsua2. The WAV is generated once and shipped as
  ``assets/audio/caller_voice.wav``; ``generate()`` exists to rebuild it reproducibly.
- The pattern is a two-tone "da-di" (440 Hz, then 660 Hz) repeated for 2 s at 8 kHz / 16-bit mono,
  so the voicemail box records real audio that a test can recognise by frequency (Goertzel),
  and a learner hears at once which side is talking.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

from labpbx.paths import asset_path

SAMPLE_RATE = 8000
TONES_HZ = (440.0, 660.0)
TONE_SECONDS = 0.2
GAP_SECONDS = 0.05
REPEATS = 4  # 4 × (0.2 + 0.05 + 0.2 + 0.05) = 2.0 s
AMPLITUDE = 12000  # about -8.7 dBFS: loud enough to hear, far from clipping after codecs
FADE_SECONDS = 0.005  # short ramps: no clicks at tone edges


def voice_path() -> Path:
    """Where the shipped voice WAV lives."""
    return asset_path("audio", "caller_voice.wav")


def _tone(freq: float, seconds: float) -> list[int]:
    count = round(seconds * SAMPLE_RATE)
    fade = max(1, round(FADE_SECONDS * SAMPLE_RATE))
    samples = []
    for i in range(count):
        envelope = min(1.0, i / fade, (count - 1 - i) / fade)
        samples.append(round(AMPLITUDE * envelope * math.sin(2 * math.pi * freq * i / SAMPLE_RATE)))
    return samples


def pattern() -> list[int]:
    """The voice as 16-bit samples at SAMPLE_RATE."""
    gap = [0] * round(GAP_SECONDS * SAMPLE_RATE)
    one = []
    for freq in TONES_HZ:
        one += _tone(freq, TONE_SECONDS) + gap
    return one * REPEATS


def generate(path: Path) -> Path:
    """Write the voice WAV to ``path`` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = pattern()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return path


if __name__ == "__main__":  # pragma: no cover - regenerates the shipped asset
    print(generate(voice_path()))
