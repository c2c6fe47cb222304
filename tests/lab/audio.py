"""Is the caller's voice in a voicemail WAV? Checked on the signal, not on the file size.

The lab's phones play ``assets/audio/caller_voice.wav`` into every answered call: 440 Hz and
660 Hz tones of 0.2 s with 50 ms gaps (labpbx.phones.voice). A recording of it has most of its
energy at one of those two frequencies in most 0.1 s windows, and is loud.
"""

from __future__ import annotations

from pathlib import Path

from tests.voicemail.audio_checks import read_pcm, rms, tone_fraction

VOICE_TONES_HZ = (440.0, 660.0)


def tone_shares(path: Path) -> list[tuple[float, float]]:
    """Per 0.1 s window: the share of its energy at 440 Hz and at 660 Hz."""
    samples, rate = read_pcm(path)
    step = rate // 10
    windows = [samples[i:i + step] for i in range(0, len(samples) - step + 1, step)]
    return [(tone_fraction(w, rate, VOICE_TONES_HZ[0]), tone_fraction(w, rate, VOICE_TONES_HZ[1]))
            for w in windows]


def assert_caller_voice(path: Path) -> None:
    """Loud, both of the voice's tones present, and a good part of the windows pure tone.

    Not every window: the jitter buffer adapts at the start of a call (pjmedia stretches the
    first few hundred ms, which smears the tone), and a 0.1 s window may straddle a tone edge.
    """
    samples, _rate = read_pcm(path)
    assert rms(samples) > 1000, f"{path} is (nearly) silent: rms {rms(samples):.0f}"
    shares = tone_shares(path)
    assert len(shares) >= 5, f"{path} is too short for a message"
    low = sum(a > 0.8 for a, _b in shares)
    high = sum(b > 0.8 for _a, b in shares)
    assert low and high, f"not both caller tones in {path}: {shares}"
    assert (low + high) / len(shares) >= 0.35, f"too little caller tone in {path}: {shares}"
