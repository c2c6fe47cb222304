"""The phones' voice: the shipped WAV is the generated pattern, and it is recognisable by tone."""

from __future__ import annotations

import math
import wave
from pathlib import Path

from labpbx.phones.voice import SAMPLE_RATE, TONES_HZ, generate, pattern, voice_path


def goertzel(samples: list[int], freq: float, rate: int) -> float:
    """Power of one frequency in a block of samples (the Goertzel algorithm)."""
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def test_pattern_is_two_seconds_of_two_tones() -> None:
    samples = pattern()
    assert len(samples) == 2 * SAMPLE_RATE
    assert max(abs(s) for s in samples) < 32767
    tones = [goertzel(samples, f, SAMPLE_RATE) for f in TONES_HZ]
    others = [goertzel(samples, f, SAMPLE_RATE) for f in (300.0, 1000.0, 1500.0)]
    assert min(tones) > 100 * max(others)


def test_shipped_wav_is_the_generated_one(tmp_path: Path) -> None:
    shipped = voice_path()
    assert shipped.is_file(), "missing: regenerate with python -m labpbx.phones.voice"
    assert shipped.read_bytes() == generate(tmp_path / "v.wav").read_bytes()
    with wave.open(str(shipped)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
