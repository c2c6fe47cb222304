"""labpbx.lab.playback: the "no audio device" path for real on this machine (no sound card, or
no PortAudio), and play/stop/finish with a fake output stream at the sounddevice boundary."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from labpbx.lab.playback import Fill, Playback, PlaybackError, probe_output
from tests.lab.test_mailboxes import write_wav


class FakeStream:
    """Stands in for sounddevice.RawOutputStream: the test pulls blocks like PortAudio would."""

    def __init__(self, rate: int, channels: int, fill: Fill, finished: Any) -> None:
        self.rate, self.channels, self.fill, self.finished = rate, channels, fill, finished
        self.started = self.stopped = self.closed = False
        self.played = bytearray()

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        self.closed = True

    def pull(self, nbytes: int = 640) -> bool:
        buffer = bytearray(nbytes)
        done = self.fill(buffer)
        self.played += buffer
        if done:
            self.finished()  # PortAudio calls finished_callback after CallbackStop
        return done


def fake_player() -> tuple[Playback, list[FakeStream], list[str]]:
    streams: list[FakeStream] = []
    ended: list[str] = []

    def factory(rate: int, channels: int, fill: Fill, finished: Any) -> FakeStream:
        streams.append(FakeStream(rate, channels, fill, finished))
        return streams[-1]

    return Playback(stream_factory=factory, on_finished=lambda: ended.append("x")), streams, ended


def test_without_an_output_device_playback_is_off_and_says_why(tmp_path: Path) -> None:
    reason = probe_output()
    if reason is None:
        pytest.skip("this machine has an audio output device")
    assert reason.startswith("no audio device: ")
    player = Playback()
    assert player.unavailable() == reason
    with pytest.raises(PlaybackError, match="no audio device"):
        player.play(write_wav(tmp_path / "m.wav"))
    assert not player.playing


def test_play_runs_to_the_end_and_reports_it_once(tmp_path: Path) -> None:
    player, streams, ended = fake_player()
    assert player.unavailable() is None
    seconds = player.play(write_wav(tmp_path / "m.wav", rate=8000, seconds=0.1))
    assert seconds == pytest.approx(0.1)
    stream = streams[0]
    assert stream.started and (stream.rate, stream.channels) == (8000, 1)
    assert player.playing
    pulls = 0
    while not stream.pull():
        pulls += 1
    assert pulls == 2  # 1600 bytes in blocks of 640: the third block ends it, zero-padded
    assert len(stream.played) == 3 * 640 and stream.played[1600:] == bytes(320)
    assert not player.playing and ended == ["x"]
    player.stop()  # nothing playing: no second report
    assert ended == ["x"]


def test_stop_ends_the_sound_and_a_new_play_replaces_the_old(tmp_path: Path) -> None:
    player, streams, ended = fake_player()
    wav = write_wav(tmp_path / "m.wav")
    player.play(wav)
    player.play(wav)  # the first sound is stopped first
    assert streams[0].stopped and streams[0].closed and ended == ["x"]
    player.stop()
    assert streams[1].stopped and not player.playing and ended == ["x", "x"]
    streams[1].pull()  # a late callback after stop changes nothing
    assert ended == ["x", "x"]


def test_finished_may_come_from_another_thread(tmp_path: Path) -> None:
    player, streams, ended = fake_player()
    player.play(write_wav(tmp_path / "m.wav", seconds=0.02))
    worker = threading.Thread(target=lambda: [streams[0].pull() for _ in range(3)])
    worker.start()
    worker.join(5)
    assert ended == ["x"] and not player.playing


def test_a_file_that_is_not_a_16_bit_wav_is_refused(tmp_path: Path) -> None:
    player, streams, _ended = fake_player()
    bad = tmp_path / "x.wav"
    bad.write_text("no")
    with pytest.raises(PlaybackError, match="not a PCM WAV"):
        player.play(bad)
    with pytest.raises(PlaybackError, match="16-bit"):
        player.play(write_wav(tmp_path / "y.wav", width=1))
    assert not streams
