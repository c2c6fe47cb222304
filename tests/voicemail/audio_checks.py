"""Small pure-Python signal checks for the tests (no numpy in the lab's dependencies)."""

from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path


def read_pcm(path: Path, start: float = 0.0, length: float | None = None) -> tuple[list[int], int]:
    """Samples of a 16-bit mono WAV (optionally a window) and the sample rate."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1, path
        rate = wav.getframerate()
        wav.setpos(min(wav.getnframes(), int(start * rate)))
        count = wav.getnframes() if length is None else int(length * rate)
        data = array("h")
        data.frombytes(wav.readframes(count))
    return list(data), rate


def rms(samples: list[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def zero_crossing_frequency(samples: list[int], rate: int, hysteresis: int = 200) -> float:
    """Frequency estimate of a tone: sign changes (with hysteresis against noise) / 2 / seconds."""
    crossings, state = 0, 0
    for s in samples:
        if s > hysteresis and state <= 0:
            crossings += state < 0
            state = 1
        elif s < -hysteresis and state >= 0:
            crossings += state > 0
            state = -1
    return crossings / 2 / (len(samples) / rate) if samples else 0.0


def tone_fraction(samples: list[int], rate: int, frequency: float) -> float:
    """Share of the signal's energy at ``frequency`` (Goertzel vs Parseval), 0..1."""
    n = len(samples)
    if n == 0:
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2  # |X(k)|^2
    energy = sum(x * x for x in samples)
    return min(1.0, 2 * power / (n * energy)) if energy else 0.0


def sound_spans(samples: list[int], rate: int, threshold: float = 300.0,
                frame: float = 0.02) -> list[tuple[float, float]]:
    """(start, end) seconds of the stretches whose 20 ms frames are louder than ``threshold``."""
    step = int(rate * frame)
    spans: list[tuple[float, float]] = []
    for i in range(0, len(samples) - step + 1, step):
        loud = rms(samples[i:i + step]) >= threshold
        t = i / rate
        if loud and spans and abs(spans[-1][1] - t) < 1e-9:
            spans[-1] = (spans[-1][0], t + frame)
        elif loud:
            spans.append((t, t + frame))
    return spans


def envelope(samples: list[int], rate: int, frame: float = 0.02) -> list[float]:
    """RMS per 20 ms frame: comparable between files of different sample rates."""
    step = int(rate * frame)
    return [rms(samples[i:i + step]) for i in range(0, len(samples) - step + 1, step)]


def best_correlation(a: list[float], b: list[float], max_lag: int = 50) -> tuple[float, int]:
    """Highest Pearson correlation of envelope ``b`` against ``a`` shifted by 0..max_lag frames."""
    best = (-1.0, 0)
    for lag in range(max_lag + 1):
        x = a[lag:lag + len(b)]
        y = b[:len(x)]
        if len(x) < 10:
            break
        mx, my = sum(x) / len(x), sum(y) / len(y)
        sxy = sum((p - mx) * (q - my) for p, q in zip(x, y, strict=True))
        sxx = sum((p - mx) ** 2 for p in x)
        syy = sum((q - my) ** 2 for q in y)
        if sxx and syy:
            best = max(best, (sxy / math.sqrt(sxx * syy), lag))
    return best


def write_wav(path: Path, samples: list[int], rate: int = 8000) -> Path:
    data = array("h", [max(-32768, min(32767, int(s))) for s in samples])
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data.tobytes())
    return path


def tone(frequency: float, seconds: float, rate: int = 8000, amplitude: float = 0.5) -> list[int]:
    return [int(amplitude * 32767 * math.sin(2 * math.pi * frequency * i / rate))
            for i in range(int(seconds * rate))]
