"""The tests' caller-voice check tells the caller's voice from other sound (pure, on files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labpbx.paths import asset_path
from tests.lab.audio import assert_caller_voice
from tests.voicemail.audio_checks import read_pcm, tone, write_wav


def test_the_phones_voice_passes() -> None:
    assert_caller_voice(asset_path("audio", "caller_voice.wav"))


@pytest.mark.parametrize("make", [
    lambda d: asset_path("greetings", "en", "unavailable.wav"),
    lambda d: write_wav(d / "silence.wav", [0] * 16000),
    lambda d: write_wav(d / "one-tone.wav", tone(440, 2.0)),
    lambda d: write_wav(d / "beep.wav", tone(1000, 2.0)),
])
def test_other_sound_fails(tmp_path: Path, make: object) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(AssertionError):
        assert_caller_voice(path)


def _voice_with(tmp_path: Path, name: str, edit: object) -> Path:
    samples, rate = read_pcm(asset_path("audio", "caller_voice.wav"))
    voice = samples * 2  # 4 s
    return write_wav(tmp_path / name, edit(voice, rate), rate)  # type: ignore[operator]


def _hole(start: float, length: float, fill: object) -> object:
    def edit(voice: list[int], rate: int) -> list[int]:
        a, b = round(start * rate), round((start + length) * rate)
        return voice[:a] + fill(b - a, rate) + voice[b:]  # type: ignore[operator]
    return edit


def test_jitter_artifacts_pass(tmp_path: Path) -> None:
    """What a busy machine does to a call: 60 ms dropped here, 100 ms repeated there, a 0.25 s
    stretch smeared into a mix of the two tones (seen in a recording under load)."""
    def edit(voice: list[int], rate: int) -> list[int]:
        ms = rate // 1000
        voice = voice[:800 * ms] + voice[860 * ms:]
        voice = voice[:1500 * ms] + voice[1400 * ms:]
        mix = [(x + y) // 2 for x, y in zip(tone(440, 0.25, rate), tone(660, 0.25, rate),
                                             strict=True)]
        return voice[:2500 * ms] + mix + voice[2750 * ms:]
    assert_caller_voice(_voice_with(tmp_path, "jittered.wav", edit))


@pytest.mark.parametrize("name, edit", [
    ("hole.wav", _hole(1.0, 0.8, lambda n, rate: [0] * n)),
    ("noise.wav", _hole(0.5, 2.5, lambda n, rate: [(i * 7919) % 20000 - 10000 for i in range(n)])),
    ("greeting.wav", _hole(1.0, 0.7, lambda n, rate: tone(300, n / rate, rate))),
])
def test_voice_missing_for_a_stretch_fails(tmp_path: Path, name: str, edit: object) -> None:
    with pytest.raises(AssertionError):
        assert_caller_voice(_voice_with(tmp_path, name, edit))
