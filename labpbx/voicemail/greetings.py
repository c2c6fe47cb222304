"""Greeting files and the WAV chores of the voicemail box (file I/O only; no pjsua2, no threads).

Rules of this module
  1. A greeting is looked up per mailbox first, then shipped with the product:
       <data>/greetings/<mailbox>/<greeting>.wav      (the mailbox owner's own, wins)
       assets/greetings/<language>/<greeting>.wav      (espeak-ng speech, en and zh)
     ``greeting`` is busy, unavailable or default. A mailbox file that is not a playable WAV is
     skipped (and reported by the caller of ``find_greeting``), never played half-way.
  2. Playable means what pjmedia's WAV player reads here: RIFF/WAVE, PCM, 16-bit, mono. Other rates
     are fine: the conference bridge resamples.
  3. Recordings are pjmedia's own WAV files (16-bit mono PCM at the bridge rate). They are read and
     trimmed only after the recorder was destroyed, because pjmedia writes the header sizes then.
"""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from pathlib import Path

from labpbx.paths import asset_path
from labpbx.voicemail.box import Greeting, SilenceDetector, safe_mailbox

ANALYSIS_FRAME = 0.02
"""Seconds per analysis frame, the same 20 ms the conference bridge delivers."""


@dataclass(frozen=True, slots=True)
class WavInfo:
    sample_rate: int
    channels: int
    sample_width: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def wav_info(path: Path) -> WavInfo:
    """Format and length of a WAV file; ValueError when it is not a PCM WAV."""
    try:
        with wave.open(str(path), "rb") as wav:
            return WavInfo(wav.getframerate(), wav.getnchannels(), wav.getsampwidth(),
                           wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path}: not a PCM WAV file ({exc})") from exc


def playable(path: Path) -> str | None:
    """None when pjmedia can play the file as a greeting (rule 2), else why not."""
    if not path.is_file():
        return "missing"
    try:
        info = wav_info(path)
    except (OSError, ValueError) as exc:
        return str(exc)
    if info.channels != 1 or info.sample_width != 2:
        return (f"{path}: needs 16-bit mono PCM, got {info.channels} channel(s) of "
                f"{8 * info.sample_width} bits")
    if info.frames == 0:
        return f"{path}: no audio"
    return None


def shipped_greeting(language: str, greeting: Greeting) -> Path:
    return asset_path("greetings", language, f"{greeting}.wav")


def beep_path() -> Path:
    return asset_path("greetings", "beep.wav")


def mailbox_greeting(data_dir: Path, mailbox: str, greeting: Greeting) -> Path | None:
    """Where a mailbox's own greeting would be (None for a name that is not a safe mailbox)."""
    if safe_mailbox(mailbox) != mailbox:
        return None
    return data_dir / "greetings" / mailbox / f"{greeting}.wav"


@dataclass(frozen=True, slots=True)
class GreetingChoice:
    path: Path
    own: bool
    """True when it is the mailbox's own file."""
    skipped: str = ""
    """Why the mailbox's own file was not used ("" when there was none or it was used)."""


def find_greeting(data_dir: Path, mailbox: str, greeting: Greeting, language: str) -> GreetingChoice:
    """The file to play (rule 1)."""
    skipped = ""
    own = mailbox_greeting(data_dir, mailbox, greeting)
    if own is not None and own.exists():
        problem = playable(own)
        if problem is None:
            return GreetingChoice(own, True)
        skipped = problem
    return GreetingChoice(shipped_greeting(language, greeting), False, skipped)


def wav_complete(path: Path) -> bool:
    """True once a WAV's RIFF size matches the file: pjmedia writes the sizes when it closes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
            size = os.fstat(handle.fileno()).st_size
    except OSError:
        return False
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    riff_size = int.from_bytes(head[4:8], "little")
    return riff_size > 0 and riff_size + 8 == size


class GrowingWav:
    """Reads the PCM that a recorder appends to a WAV file while it records.

    pjmedia's WAV writer writes a canonical 44-byte header (sizes 0 until it closes) and then
    the data in 4 KiB blocks (measured: one every ~120 ms at 16 kHz). Each ``read_frames()``
    returns the whole frames written since the last call, so the caller measures the recording
    on what is really in the file, with no code of ours on pjmedia's clock thread.
    """

    HEADER = 44

    def __init__(self, path: Path, frame_bytes: int) -> None:
        if frame_bytes <= 0 or frame_bytes % 2:
            raise ValueError("frame_bytes must be a positive even number")
        self.path = path
        self.frame_bytes = frame_bytes
        self.offset = self.HEADER

    def read_frames(self) -> list[bytes]:
        """The complete frames appended since the last call ([] when none, or unreadable)."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return []
        usable = len(data) - len(data) % self.frame_bytes
        self.offset += usable
        return [data[i:i + self.frame_bytes] for i in range(0, usable, self.frame_bytes)]


@dataclass(frozen=True, slots=True)
class RecordingAnalysis:
    duration: float
    """Seconds of audio in the file."""
    sound_end: float
    """Seconds from the start to the end of the last frame with sound (0 when none)."""
    heard_sound: bool


def analyze_recording(path: Path, threshold: float) -> RecordingAnalysis:
    """Length of a finished recording and where its last sound ends (ValueError: not a WAV)."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise ValueError(f"{path}: expected 16-bit mono PCM")
            detector = SilenceDetector(rate, threshold)
            step = max(1, int(rate * ANALYSIS_FRAME))
            while chunk := wav.readframes(step):
                detector.feed(chunk)
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path}: not a PCM WAV file ({exc})") from exc
    return RecordingAnalysis(detector.total, detector.last_sound_end, detector.heard_sound)


def truncate_wav(path: Path, seconds: float) -> float:
    """Cut a 16-bit mono WAV to its first ``seconds``; returns the new length.

    Rewritten through a temporary file and os.replace, so a crash leaves the old file whole.
    """
    with wave.open(str(path), "rb") as src:
        params = src.getparams()
        keep = min(src.getnframes(), max(0, round(seconds * src.getframerate())))
        data = src.readframes(keep)
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as dst:
        dst.setparams(params)
        dst.writeframes(data)
    os.replace(tmp, path)
    return keep / params.framerate
