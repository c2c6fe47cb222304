"""A mailbox owner's own greeting from a WAV file: check it, convert it to what the box plays,
and put it in place without ever losing the greeting it replaces.

Rules of this module:
  1. The box plays 16-bit mono PCM WAV at any rate (greetings.py rule 2). Simple differences are
     converted here with the standard library only: 8-, 24- and 32-bit integer PCM become 16-bit
     (the top 16 bits are kept), 2–8 channels are averaged into one. The rate is kept when it is
     between MIN_RATE and MAX_RATE (the conference bridge resamples it); other rates, compressed
     or floating-point WAVs, empty and over-long files are refused with a sentence that says
     what to do — no resampler is guessed at.
  2. Atomic: the converted audio goes to a temporary file next to the target, is read back and
     checked as playable, and only then replaces the old greeting (``os.replace``). Any failure
     removes the temporary file and leaves the old greeting (or the lack of one) as it was.
  3. Reverting to the shipped greeting removes the mailbox's own file; nothing else is touched.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import wave
from array import array
from pathlib import Path

from labpbx.voicemail.box import Greeting
from labpbx.voicemail.greetings import playable

MIN_RATE = 8000
MAX_RATE = 48000
MAX_SECONDS = 120.0
MAX_CHANNELS = 8
_XOR_SIGN = bytes(b ^ 0x80 for b in range(256))  # unsigned 8-bit → signed, as a table


class GreetingFileError(ValueError):
    """The chosen file cannot become a greeting; the message says why and what to do."""


def read_as_pcm16_mono(source: Path) -> tuple[int, bytes]:
    """(rate, 16-bit little-endian mono PCM) of a PCM WAV file, converted per rule 1."""
    try:
        with wave.open(str(source), "rb") as wav:
            rate, channels = wav.getframerate(), wav.getnchannels()
            width, frames = wav.getsampwidth(), wav.getnframes()
            if not MIN_RATE <= rate <= MAX_RATE:
                raise GreetingFileError(
                    f"{source.name}: the sample rate {rate} Hz is not supported; save it at a "
                    f"rate between {MIN_RATE} and {MAX_RATE} Hz (16000 Hz is best)")
            if not 1 <= channels <= MAX_CHANNELS:
                raise GreetingFileError(f"{source.name}: {channels} channels; use mono or stereo")
            if frames == 0:
                raise GreetingFileError(f"{source.name}: the file holds no audio")
            if frames / rate > MAX_SECONDS:
                raise GreetingFileError(
                    f"{source.name}: {frames / rate:.0f} s is too long for a greeting "
                    f"(at most {MAX_SECONDS:.0f} s)")
            data = wav.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise GreetingFileError(
            f"{source.name}: not a PCM WAV file ({exc}); export it as WAV, 16-bit PCM, "
            "mono") from None
    except OSError as exc:
        raise GreetingFileError(f"{source.name}: cannot be read ({exc.strerror or exc})") from None
    pcm = _to_16_bit(data, width)
    return rate, _to_mono(pcm, channels)


def _to_16_bit(data: bytes, width: int) -> bytes:
    usable = len(data) - len(data) % width
    data = data[:usable]
    if width == 2:
        return data
    out = bytearray(2 * (usable // width))
    if width == 1:  # unsigned: flip the sign bit, it becomes the high byte
        out[1::2] = data.translate(_XOR_SIGN)
        return bytes(out)
    if width in (3, 4):  # little-endian: the last two bytes of a sample are its top 16 bits
        out[0::2] = data[width - 2::width]
        out[1::2] = data[width - 1::width]
        return bytes(out)
    raise GreetingFileError(f"{8 * width}-bit samples are not supported; use 16-bit PCM")


def _to_mono(pcm: bytes, channels: int) -> bytes:
    if channels == 1:
        return pcm
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % (2 * channels)])
    if sys.byteorder == "big":
        samples.byteswap()
    lanes = [samples[i::channels] for i in range(channels)]
    mono = array("h", (sum(frame) // channels for frame in zip(*lanes, strict=True)))
    if sys.byteorder == "big":
        mono.byteswap()
    return mono.tobytes()


def install_greeting(source: Path, target: Path) -> float:
    """Make ``target`` the greeting converted from ``source`` (rules 1–2); return its seconds.

    GreetingFileError for a file that cannot be used; OSError when the target directory cannot
    be written. In both cases the old ``target`` is unchanged.
    """
    rate, pcm = read_as_pcm16_mono(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(pcm)
        problem = playable(tmp)
        if problem is not None:  # our own output must be playable; refuse rather than break
            raise GreetingFileError(f"{source.name}: the converted greeting is unusable "
                                    f"({problem})")
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return len(pcm) / 2 / rate


def remove_greeting(target: Path) -> bool:
    """Remove a mailbox's own greeting (rule 3); False when it had none."""
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    return True


GREETING_KINDS: tuple[Greeting, ...] = ("busy", "unavailable", "default")
