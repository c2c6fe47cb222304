"""labpbx.lab.mailboxes on a real lab.json and WAV files in tmp_path: counts, heard, delete (file
and row), greetings replaced from WAVs of other formats (converted) or refused (old one kept),
revert, and a corrupt index."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest

from labpbx.lab.mailboxes import MailboxError, Mailboxes
from labpbx.paths import db_path
from labpbx.store.db import LabStore
from labpbx.store.records import VoicemailRow
from labpbx.voicemail.greeting_import import read_as_pcm16_mono
from labpbx.voicemail.greetings import playable, wav_info


def write_wav(path: Path, *, rate: int = 16000, channels: int = 1, width: int = 2,
              seconds: float = 0.5, comp: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(rate * seconds)
    data = bytearray()
    for i in range(frames):
        sample = int(8000 * math.sin(2 * math.pi * 440 * i / rate))
        for _c in range(channels):
            if width == 1:
                data += bytes([(sample >> 8) + 128])
            elif width == 2:
                data += struct.pack("<h", sample)
            elif width == 3:
                data += struct.pack("<i", sample << 8)[:3]
            else:
                data += struct.pack("<i", sample << 16)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(bytes(data))
    return path


def store_message(data_dir: Path, mailbox: str, message_id: str, *, at: float,
                  greeting: str = "busy", heard: bool = False) -> VoicemailRow:
    rel = f"voicemail/{mailbox}/{message_id}.wav"
    write_wav(data_dir / rel)
    row = VoicemailRow(message_id, mailbox, "sip:1000@127.0.0.1", "", at, 0.5, greeting,
                       "user-busy" if greeting == "busy" else "no-answer", rel, heard)
    return LabStore(db_path(data_dir)).voicemail_add(row)


def test_counts_messages_heard_and_delete(tmp_path: Path) -> None:
    changed: list[str] = []
    boxes = Mailboxes(tmp_path, mailboxes=("1000", "1001"), on_change=changed.append)
    assert [(s.mailbox, s.new, s.total) for s in boxes.summaries()] == [("1000", 0, 0),
                                                                      ("1001", 0, 0)]
    store_message(tmp_path, "1001", "m1", at=100.0)
    store_message(tmp_path, "1001", "m2", at=200.0, greeting="unavailable")
    store_message(tmp_path, "general", "m3", at=300.0, greeting="default")
    assert [(s.mailbox, s.new, s.total) for s in boxes.summaries()] == [
        ("1000", 0, 0), ("1001", 2, 2), ("general", 1, 1)]
    messages = boxes.messages("1001")
    assert [m.id for m in messages] == ["m2", "m1"]  # newest first
    assert [m.cause for m in messages] == ["unavailable", "busy"]
    assert messages[0].path == tmp_path / "voicemail/1001/m2.wav"
    assert boxes.audio_file(messages[0]) == (tmp_path / "voicemail/1001/m2.wav").resolve()

    boxes.mark_heard("m1")
    assert [(s.new, s.total) for s in boxes.summaries() if s.mailbox == "1001"] == [(1, 2)]
    assert LabStore(db_path(tmp_path)).voicemail_count("1001") == (1, 1)  # what MWI counts
    gone = boxes.delete_async("m2").result(5)
    assert gone.id == "m2" and not (tmp_path / "voicemail/1001/m2.wav").exists()
    assert [m.id for m in boxes.messages("1001")] == ["m1"]
    assert changed == ["1001", "1001"]  # the box is asked to count again after each change
    with pytest.raises(MailboxError, match="no message m2"):
        boxes.delete("m2")
    assert isinstance(boxes.mark_heard_async("nope").exception(5), MailboxError)


def test_a_corrupt_index_is_said_and_left_alone(tmp_path: Path) -> None:
    store_message(tmp_path, "1001", "m1", at=1.0)
    db_path(tmp_path).write_text("[]", encoding="utf-8")
    boxes = Mailboxes(tmp_path, mailboxes=("1001",))
    with pytest.raises(MailboxError, match="corrupt"):
        boxes.summaries()
    with pytest.raises(MailboxError):
        boxes.delete("m1")
    assert (tmp_path / "voicemail/1001/m1.wav").exists()  # nothing deleted
    assert db_path(tmp_path).read_text(encoding="utf-8") == "[]"


def test_greetings_shipped_own_replace_revert(tmp_path: Path) -> None:
    boxes = Mailboxes(tmp_path, mailboxes=("1001",))
    shipped = boxes.greeting("1001", "busy")
    assert not shipped.own and shipped.path.name == "busy.wav" and shipped.duration > 0.5
    own = boxes.replace_greeting("1001", "busy", write_wav(tmp_path / "in/mine.wav",
                                                           seconds=1.0))
    assert own.own and own.path == tmp_path / "greetings/1001/busy.wav"
    assert own.duration == pytest.approx(1.0, abs=0.01)
    assert boxes.greeting("1001", "unavailable").own is False  # one greeting at a time
    back = boxes.revert_greeting_async("1001", "busy").result(5)
    assert not back.own and not own.path.exists()


@pytest.mark.parametrize(("rate", "channels", "width"), [
    (8000, 2, 2), (44100, 1, 1), (48000, 2, 3), (22050, 1, 4)])
def test_a_wav_of_another_simple_format_is_converted(tmp_path: Path, rate: int, channels: int,
                                                     width: int) -> None:
    source = write_wav(tmp_path / "in.wav", rate=rate, channels=channels, width=width,
                       seconds=0.3)
    info = Mailboxes(tmp_path).replace_greeting("1001", "unavailable", source)
    assert info.own and playable(info.path) is None
    converted = wav_info(info.path)
    assert (converted.sample_rate, converted.channels, converted.sample_width) == (rate, 1, 2)
    assert converted.duration == pytest.approx(0.3, abs=0.01)
    _rate, pcm = read_as_pcm16_mono(info.path)
    peak = max(abs(s) for s in struct.unpack(f"<{len(pcm) // 2}h", pcm))
    assert 7000 < peak <= 8200  # the source's 8000 peak (8-bit rounds -8000 to -8192)


@pytest.mark.parametrize(("make", "words"), [
    (lambda p: write_wav(p, rate=96000), "96000 Hz is not supported"),
    (lambda p: write_wav(p, seconds=0.0), "holds no audio"),
    (lambda p: (p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk"), p)[1], "not a PCM WAV"),
    (lambda p: (p.write_text("hello"), p)[1], "not a PCM WAV"),
])
def test_a_bad_file_is_refused_and_the_old_greeting_kept(tmp_path: Path, make, words) -> None:  # type: ignore[no-untyped-def]
    boxes = Mailboxes(tmp_path)
    old = boxes.replace_greeting("1001", "busy", write_wav(tmp_path / "good.wav"))
    before = old.path.read_bytes()
    with pytest.raises(MailboxError, match=words):
        boxes.replace_greeting("1001", "busy", make(tmp_path / "bad.wav"))
    assert old.path.read_bytes() == before
    assert sorted(p.name for p in old.path.parent.iterdir()) == ["busy.wav"]  # no temp left
    assert isinstance(boxes.replace_greeting_async("1001", "busy", tmp_path / "missing.wav")
                      .exception(5), MailboxError)


def test_unknown_greetings_and_mailboxes_are_refused(tmp_path: Path) -> None:
    boxes = Mailboxes(tmp_path)
    with pytest.raises(MailboxError, match="unknown greeting"):
        boxes.greeting("1001", "party")
    with pytest.raises(MailboxError, match="not a mailbox name"):
        boxes.revert_greeting("../etc", "busy")
