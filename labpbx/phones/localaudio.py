"""Local sound for a phone: microphone and speaker through sounddevice (PortAudio), optional.

Rules of this module:
- It never imports pjsua2. The agent's AudioMediaPort calls ``pull_for_call``/``push_from_call``
  from pjmedia's clock thread; PortAudio calls ``_on_stream`` from its own thread. Both sides only
  append to / pop from bounded deques (atomic under the GIL), so neither thread waits on the
  other and neither touches a pjsua2 object.
- The deques hold at most ``MAX_QUEUED_FRAMES`` frames: when one side stalls the oldest audio is
  dropped, which keeps latency bounded instead of growing forever.
- ``probe()`` explains why local sound is unavailable ("PortAudio library not found", "no sound
  card: …"); the phone then carries on without it and says so in a ComponentEvent.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any

CLOCK_RATE = 16000  # pjmedia's conference bridge default rate
FRAME_MS = 20  # pjmedia's default ptime
SAMPLES_PER_FRAME = CLOCK_RATE * FRAME_MS // 1000
FRAME_BYTES = SAMPLES_PER_FRAME * 2  # 16-bit mono
MAX_QUEUED_FRAMES = 10  # 200 ms of slack each way
SILENCE = bytes(FRAME_BYTES)


@dataclass(frozen=True, slots=True)
class Probe:
    """Whether local sound can be used, and why (not)."""

    available: bool
    reason: str
    input_name: str = ""
    output_name: str = ""


def _import_sounddevice() -> Any:
    # Imported lazily: without the PortAudio library the import itself raises OSError.
    import sounddevice

    return sounddevice


def probe() -> Probe:
    """Look for a default input and output device; never raises."""
    try:
        sd = _import_sounddevice()
    except OSError as exc:
        return Probe(False, f"PortAudio library not found ({exc})")
    except ImportError as exc:
        return Probe(False, f"sounddevice is not installed ({exc})")
    try:
        devices = sd.query_devices()
        if len(devices) == 0:
            return Probe(False, "no sound card: PortAudio found no devices")
        names = []
        for kind in ("input", "output"):
            info = sd.query_devices(kind=kind)
            names.append(str(info["name"]))
    except Exception as exc:  # PortAudioError and friends: any failure means "no local sound"
        return Probe(False, f"no sound card: {exc}")
    return Probe(True, f"local audio: in={names[0]!r} out={names[1]!r}", names[0], names[1])


@dataclass(frozen=True, slots=True)
class AudioSystem:
    """PortAudio and its devices, for ``labpbx doctor``."""

    portaudio: str  # PortAudio's version text; "" when the library is not found
    error: str = ""
    devices: tuple[str, ...] = ()  # "name (in N, out M)"
    default_input: str = ""
    default_output: str = ""


def audio_system() -> AudioSystem:
    """What PortAudio and which devices this machine has; never raises."""
    try:
        sd = _import_sounddevice()
    except (OSError, ImportError) as exc:
        return AudioSystem("", str(exc))
    try:
        version = str(sd.get_portaudio_version()[1]).split(", revision")[0]  # drop the git hash
        devices = tuple(f"{d['name']} (in {d['max_input_channels']}, out {d['max_output_channels']})"
                        for d in sd.query_devices())
    except Exception as exc:  # PortAudioError and friends
        return AudioSystem("PortAudio", str(exc))
    defaults = []
    for kind in ("input", "output"):
        try:
            defaults.append(str(sd.query_devices(kind=kind)["name"]))
        except Exception:  # no default device of that kind
            defaults.append("")
    return AudioSystem(version, "", devices, defaults[0], defaults[1])


class LocalAudio:
    """A full-duplex PortAudio stream bridged to two frame queues.

    Call ``start()`` on the pump thread; pjmedia's thread then calls ``pull_for_call`` (frames the
    call should hear: the microphone) and ``push_from_call`` (frames the call says: the speaker).
    """

    def __init__(self) -> None:
        self._mic: collections.deque[bytes] = collections.deque(maxlen=MAX_QUEUED_FRAMES)
        self._speaker: collections.deque[bytes] = collections.deque(maxlen=MAX_QUEUED_FRAMES)
        self._stream: Any = None

    def start(self) -> None:
        """Open and start the stream; raises whatever PortAudio raises."""
        sd = _import_sounddevice()
        self._stream = sd.RawStream(samplerate=CLOCK_RATE, blocksize=SAMPLES_PER_FRAME,
                                    channels=1, dtype="int16", callback=self._on_stream)
        self._stream.start()

    def stop(self) -> None:
        """Stop and close the stream (idempotent)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()

    # PortAudio's thread ---------------------------------------------------------------------
    def _on_stream(self, indata: Any, outdata: Any, frames: int, _time: Any, _status: Any) -> None:
        self._mic.append(bytes(indata))
        try:
            chunk = self._speaker.popleft()
        except IndexError:
            chunk = SILENCE
        need = len(outdata)
        outdata[:] = chunk[:need].ljust(need, b"\0")

    # pjmedia's thread -----------------------------------------------------------------------
    def pull_for_call(self) -> bytes:
        """One frame for the call to hear (silence when the microphone is behind)."""
        try:
            chunk = self._mic.popleft()
        except IndexError:
            return SILENCE
        return chunk[:FRAME_BYTES].ljust(FRAME_BYTES, b"\0")

    def push_from_call(self, frame: bytes) -> None:
        """One frame the call said, for the speaker."""
        self._speaker.append(frame)
