"""Shipped greetings, per-mailbox overrides and the WAV chores done after a recording."""

from __future__ import annotations

from pathlib import Path

import pytest

from labpbx.voicemail.box import GREETINGS, LANGUAGES
from labpbx.voicemail.greetings import (
    GrowingWav,
    analyze_recording,
    beep_path,
    find_greeting,
    playable,
    shipped_greeting,
    truncate_wav,
    wav_complete,
    wav_info,
)
from tests.voicemail.audio_checks import (
    read_pcm,
    sound_spans,
    tone,
    tone_fraction,
    write_wav,
    zero_crossing_frequency,
)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("greeting", GREETINGS)
def test_shipped_greetings_are_playable_speech(language: str, greeting: str) -> None:
    path = shipped_greeting(language, greeting)  # type: ignore[arg-type]
    assert playable(path) is None, path
    info = wav_info(path)
    assert info.sample_rate == 8000 and info.channels == 1 and info.sample_width == 2
    assert 2.5 < info.duration < 8.0
    samples, rate = read_pcm(path)
    # speech: several separate loud stretches (words), not one tone or silence
    assert len(sound_spans(samples, rate)) >= 4


def test_greetings_differ_per_reason_and_language() -> None:
    sizes = {(lang, g): shipped_greeting(lang, g).read_bytes()
             for lang in LANGUAGES for g in GREETINGS}
    assert len(set(sizes.values())) == len(sizes)


def test_beep_is_0_4_s_of_1_khz() -> None:
    info = wav_info(beep_path())
    assert info.duration == pytest.approx(0.4, abs=0.001)
    samples, rate = read_pcm(beep_path(), 0.05, 0.3)
    assert zero_crossing_frequency(samples, rate) == pytest.approx(1000, abs=10)
    assert tone_fraction(samples, rate, 1000) > 0.95


def test_readme_documents_the_commands() -> None:
    readme = (beep_path().parent / "README.md").read_text(encoding="utf-8")
    assert "espeak-ng" in readme and "sox" in readme and "cmn-latn-pinyin" in readme


def test_mailbox_greeting_wins_and_bad_files_fall_back(tmp_path: Path) -> None:
    own = tmp_path / "greetings" / "1001" / "busy.wav"
    assert find_greeting(tmp_path, "1001", "busy", "en").path == shipped_greeting("en", "busy")
    own.parent.mkdir(parents=True)
    write_wav(own, tone(300, 0.3))
    choice = find_greeting(tmp_path, "1001", "busy", "zh")
    assert choice.path == own and choice.own and not choice.skipped
    # only that greeting of that mailbox is replaced
    assert find_greeting(tmp_path, "1001", "unavailable", "zh").path == shipped_greeting(
        "zh", "unavailable")
    assert find_greeting(tmp_path, "1002", "busy", "en").path == shipped_greeting("en", "busy")
    own.write_bytes(b"RIFF nonsense")
    choice = find_greeting(tmp_path, "1001", "busy", "en")
    assert choice.path == shipped_greeting("en", "busy") and "not a PCM WAV" in choice.skipped
    write_wav(own, [])
    assert "no audio" in find_greeting(tmp_path, "1001", "busy", "en").skipped
    # a mailbox name that is not safe never reaches the file system
    assert not find_greeting(tmp_path, "../1001", "busy", "en").own


def test_analyze_and_truncate_recording(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "m.wav", tone(440, 1.0, 16000) + [0] * 16000 * 2, 16000)
    assert wav_complete(path)
    found = analyze_recording(path, 300)
    assert found.heard_sound
    assert found.duration == pytest.approx(3.0)
    assert found.sound_end == pytest.approx(1.0, abs=0.021)
    assert truncate_wav(path, found.sound_end + 0.2) == pytest.approx(1.2, abs=0.021)
    assert wav_info(path).duration == pytest.approx(1.2, abs=0.021)
    silent = write_wav(tmp_path / "s.wav", [10] * 8000, 8000)
    assert not analyze_recording(silent, 300).heard_sound
    junk = tmp_path / "x.wav"
    junk.write_bytes(b"junk")
    with pytest.raises(ValueError):
        analyze_recording(junk, 300)


def test_wav_complete_needs_the_sizes_pjmedia_writes_on_close(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "m.wav", tone(440, 0.1), 8000)
    data = bytearray(path.read_bytes())
    assert wav_complete(path)
    data[4:8] = bytes(4)  # what pjmedia's header says until the recorder is closed
    path.write_bytes(bytes(data))
    assert not wav_complete(path)
    assert not wav_complete(tmp_path / "missing.wav")


def test_growing_wav_yields_whole_frames_as_the_recorder_appends_them(tmp_path: Path) -> None:
    path = tmp_path / "rec.wav"
    header = b"RIFF" + bytes(4) + b"WAVEfmt " + bytes(20) + b"data" + bytes(4)  # sizes 0: open
    assert len(header) == GrowingWav.HEADER
    path.write_bytes(header)
    reader = GrowingWav(path, 640)
    assert reader.read_frames() == []
    frame_a, frame_b = bytes(range(256)) * 2 + bytes(128), b"\x01\x02" * 320
    with path.open("ab") as out:  # one and a half frames: the half waits for the rest
        out.write(frame_a + frame_b[:320])
    assert reader.read_frames() == [frame_a]
    with path.open("ab") as out:
        out.write(frame_b[320:])
    assert reader.read_frames() == [frame_b]
    assert reader.read_frames() == []
    path.unlink()
    assert reader.read_frames() == []  # gone (trimmed or deleted): nothing, no error
    with pytest.raises(ValueError):
        GrowingWav(path, 641)
