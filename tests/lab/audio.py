"""Is the caller's voice in a voicemail WAV? Checked on the signal, not on the file size.

The lab's phones play ``assets/audio/caller_voice.wav`` into every answered call: 440 Hz and
660 Hz tones of 0.2 s with 50 ms gaps (labpbx.phones.voice). A recording of it is loud, has most
of its energy at one of those two frequencies in most 20 ms windows, and has no long stretch
without them.
"""

from __future__ import annotations

from pathlib import Path

from tests.voicemail.audio_checks import read_pcm, rms, tone_fraction

VOICE_TONES_HZ = (440.0, 660.0)
WINDOW = 0.02
"""Classify 20 ms windows: short enough that a 0.2 s tone fills 9-10 of them whatever the
alignment, long enough (bins 50 Hz apart) to tell 440 Hz from 660 Hz."""
PURE = 0.7
"""A window is one of the voice's tones when that tone has this share of its energy."""
QUIET_RMS = 300.0
MIN_TONE_SHARE = 0.5
"""Of the loud windows, at least this many must be one of the tones. The clean voice gives
0.9 (only the 5 ms fades and tone edges miss); the recordings through pjmedia 0.72-0.74 (the
jitter buffer's start-up smear, codec edges); a busy machine's stalls, up to 0.59 seen."""
MAX_TONELESS_GAP = 0.5
"""The longest stretch without either tone. The voice's own gaps are 50 ms; a stall that
the jitter buffer smears costs ~0.25 s; audio missing "for long stretches" is more."""


def classify(path: Path) -> str:
    """One letter per 20 ms window: a (440 Hz), b (660 Hz), . (quiet), ? (other sound)."""
    samples, rate = read_pcm(path)
    step = round(rate * WINDOW)
    letters = []
    for i in range(0, len(samples) - step + 1, step):
        window = samples[i:i + step]
        if rms(window) < QUIET_RMS:
            letters.append(".")
        elif tone_fraction(window, rate, VOICE_TONES_HZ[0]) > PURE:
            letters.append("a")
        elif tone_fraction(window, rate, VOICE_TONES_HZ[1]) > PURE:
            letters.append("b")
        else:
            letters.append("?")
    return "".join(letters)


def assert_caller_voice(path: Path) -> None:
    """Loud, both of the voice's tones, most loud windows one of them, and no long hole.

    Tolerant of what scheduling jitter does to a call (a smeared or stretched tone, a short
    concealment), not of the voice missing, replaced or drowned: those fail one of the checks.
    """
    samples, _rate = read_pcm(path)
    assert rms(samples) > 1000, f"{path} is (nearly) silent: rms {rms(samples):.0f}"
    letters = classify(path)
    assert len(letters) >= 25, f"{path} is too short for a message: {letters}"
    assert "a" in letters and "b" in letters, f"not both caller tones in {path}: {letters}"
    loud = len(letters) - letters.count(".")
    tones = letters.count("a") + letters.count("b")
    assert tones / loud >= MIN_TONE_SHARE, f"too little caller tone in {path}: {letters}"
    # Before the first and after the last tone window: the jitter buffer filling, the trimmed
    # end of the message. Holes count only in between.
    first = min(i for i in (letters.find("a"), letters.find("b")) if i >= 0)
    last = max(letters.rfind("a"), letters.rfind("b"))
    body = letters[first:last + 1]
    longest = max((len(run) for run in body.replace("a", "b").split("b")), default=0)
    assert longest * WINDOW <= MAX_TONELESS_GAP, (
        f"the caller's voice is missing for {longest * WINDOW:.2f} s in {path}: {letters}")
