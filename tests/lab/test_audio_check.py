"""The tests' caller-voice check tells the caller's voice from other sound (pure, on files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labpbx.paths import asset_path
from tests.lab.audio import assert_caller_voice
from tests.voicemail.audio_checks import tone, write_wav


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
