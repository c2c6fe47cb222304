"""Play a voicemail message or a greeting on this computer's speaker (sounddevice / PortAudio).

    player = Playback(on_finished=lambda: ...)
    player.unavailable()        # None, or "no audio device: …" (then play() refuses)
    player.play(path)           # returns at once; the audio runs on PortAudio's thread
    player.stop()

Rules of this module:
- sounddevice is imported lazily, here only (ui/ never imports it): without the PortAudio
  library the import itself raises OSError, and a machine without a sound card has no default
  output device. Both make ``unavailable()`` return "no audio device: <why>", once probed and
  then remembered; a view disables its Play buttons and shows that sentence.
- One sound at a time: ``play`` stops what was playing. The WAV (16-bit PCM, what the box
  records and plays) is read whole first, so the audio callback only copies bytes and never
  touches the file, the GIL-heavy parts or a lock.
- ``on_finished`` is called once per ``play``, on PortAudio's thread, when the sound ended or
  was stopped: hand it to the GUI thread (a queued signal), do not touch widgets from it.
- The output stream is made by ``stream_factory(rate, channels, fill, finished)``; the default
  opens a ``sounddevice.RawOutputStream``. ``fill(buffer) -> bool`` writes the next block and
  says whether the sound is over. Tests inject a fake stream at this boundary.
"""

from __future__ import annotations

import contextlib
import threading
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from labpbx.errors import LabPbxError

BLOCK_FRAMES = 320  # 20 ms at 16 kHz


class PlaybackError(LabPbxError):
    """The sound cannot be played; the message says why."""


class OutputStream(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


Fill = Callable[[Any], bool]
StreamFactory = Callable[[int, int, Fill, Callable[[], None]], OutputStream]


def _sounddevice() -> Any:
    import sounddevice  # lazily: raises OSError when the PortAudio library is missing

    return sounddevice


def probe_output() -> str | None:
    """None when there is a default output device, else "no audio device: <why>"."""
    try:
        sd = _sounddevice()
    except OSError as exc:
        return f"no audio device: the PortAudio library was not found ({exc})"
    except ImportError as exc:
        return f"no audio device: sounddevice is not installed ({exc})"
    try:
        info = sd.query_devices(kind="output")
    except Exception as exc:  # PortAudioError and friends: any failure means "no output"
        return f"no audio device: PortAudio found no default output device ({exc})"
    if not info or int(info.get("max_output_channels", 0)) < 1:
        return "no audio device: the default device has no output channel"
    return None


def sounddevice_stream(rate: int, channels: int, fill: Fill,
                       finished: Callable[[], None]) -> OutputStream:
    """A started-on-demand PortAudio output stream that asks ``fill`` for each block."""
    sd = _sounddevice()

    def callback(outdata: Any, _frames: int, _time: Any, _status: Any) -> None:
        if fill(outdata):
            raise sd.CallbackStop

    stream: OutputStream = sd.RawOutputStream(
        samplerate=rate, channels=channels, dtype="int16", blocksize=BLOCK_FRAMES,
        callback=callback, finished_callback=finished)
    return stream


def read_pcm16(path: Path) -> tuple[int, int, bytes]:
    """(rate, channels, 16-bit PCM) of a WAV file; PlaybackError when it is not one."""
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2:
                raise PlaybackError(f"{path.name}: only 16-bit PCM WAV files are played")
            return wav.getframerate(), wav.getnchannels(), wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise PlaybackError(f"{path.name}: not a PCM WAV file ({exc})") from None
    except OSError as exc:
        raise PlaybackError(f"{path.name} cannot be read: {exc.strerror or exc}") from None


class _Sound:
    """One sound being played: its bytes and how far the callback has got."""

    def __init__(self, pcm: bytes, on_finished: Callable[[], None]) -> None:
        self.pcm = pcm
        self.offset = 0
        self._on_finished = on_finished
        self._done = threading.Event()
        self.stream: OutputStream | None = None

    def fill(self, buffer: Any) -> bool:
        need = len(buffer)
        chunk = self.pcm[self.offset:self.offset + need]
        self.offset += len(chunk)
        buffer[:] = chunk.ljust(need, b"\0")
        return self.offset >= len(self.pcm)

    def finished(self) -> None:
        if not self._done.is_set():
            self._done.set()
            self._on_finished()

    @property
    def over(self) -> bool:
        return self._done.is_set()


class Playback:
    """Plays one WAV at a time; see the module rules."""

    def __init__(self, *, on_finished: Callable[[], None] | None = None,
                 stream_factory: StreamFactory | None = None,
                 probe: Callable[[], str | None] = probe_output) -> None:
        self._on_finished = on_finished or (lambda: None)
        self._factory = stream_factory or sounddevice_stream
        self._probe = probe if stream_factory is None else (lambda: None)
        self._reason: str | None = None
        self._probed = False
        self._sound: _Sound | None = None
        self.path: Path | None = None  # what is playing (or last played)

    def unavailable(self) -> str | None:
        """None when sound can be played, else why not (probed once)."""
        if not self._probed:
            self._reason = self._probe()
            self._probed = True
        return self._reason

    @property
    def playing(self) -> bool:
        return self._sound is not None and not self._sound.over

    def play(self, path: Path) -> float:
        """Start playing ``path`` (stopping any other sound); returns its length in seconds."""
        reason = self.unavailable()
        if reason is not None:
            raise PlaybackError(reason)
        rate, channels, pcm = read_pcm16(Path(path))
        if not pcm:
            raise PlaybackError(f"{Path(path).name} holds no audio")
        self.stop()
        sound = _Sound(pcm, self._on_finished)
        try:
            sound.stream = self._factory(rate, channels, sound.fill, sound.finished)
            sound.stream.start()
        except PlaybackError:
            raise
        except Exception as exc:  # PortAudio refused the device or the format
            raise PlaybackError(f"cannot play {Path(path).name}: {exc}") from None
        self._sound = sound
        self.path = Path(path)
        return len(pcm) / (2 * channels * rate)

    def stop(self) -> None:
        """Stop the sound (``on_finished`` follows if it was still playing); idempotent."""
        sound, self._sound = self._sound, None
        if sound is None or sound.stream is None:
            return
        with contextlib.suppress(Exception):  # a device that vanished: the sound is over
            sound.stream.stop()
            sound.stream.close()
        sound.finished()
