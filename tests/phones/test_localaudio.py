"""Local sound's frame queues (no sound card needed): bounded, silence when starved."""

from __future__ import annotations

from labpbx.phones.localaudio import FRAME_BYTES, MAX_QUEUED_FRAMES, SILENCE, LocalAudio, probe


def test_starved_queues_give_silence() -> None:
    audio = LocalAudio()
    assert audio.pull_for_call() == SILENCE
    out = bytearray(b"\x01" * FRAME_BYTES)
    audio._on_stream(b"\x02" * FRAME_BYTES, out, FRAME_BYTES // 2, None, None)
    assert bytes(out) == SILENCE  # nothing from the call yet
    assert audio.pull_for_call() == b"\x02" * FRAME_BYTES  # the microphone frame reached the call


def test_call_audio_reaches_the_speaker_and_queues_stay_bounded() -> None:
    audio = LocalAudio()
    for i in range(MAX_QUEUED_FRAMES + 5):
        audio.push_from_call(bytes([i]) * FRAME_BYTES)
    out = bytearray(FRAME_BYTES)
    audio._on_stream(SILENCE, out, FRAME_BYTES // 2, None, None)
    assert bytes(out) == bytes([5]) * FRAME_BYTES  # the 5 oldest frames were dropped


def test_short_microphone_block_is_padded() -> None:
    audio = LocalAudio()
    audio._on_stream(b"\x03" * 10, bytearray(FRAME_BYTES), 5, None, None)
    assert audio.pull_for_call() == b"\x03" * 10 + bytes(FRAME_BYTES - 10)


def test_probe_never_raises_and_explains() -> None:
    found = probe()
    assert found.reason
    if not found.available:
        assert any(word in found.reason for word in ("PortAudio", "sound card", "sounddevice"))
