"""The phone process with a fake sound card, to test the local-audio bridge without hardware.

Run as ``python -m tests.phones.fake_audio_phone <phone args>``. The fake "PortAudio" thread (a
plain Python thread, like PortAudio's own: it never touches pjsua2) feeds a 1 kHz microphone tone
every 20 ms and keeps what reaches the speaker. At stop it writes a JSON report to the file named
by FAKE_AUDIO_REPORT: frames played and their energy.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
import threading
from typing import Any

from labpbx.phones import agent, localaudio
from labpbx.phones.localaudio import CLOCK_RATE, FRAME_BYTES, SAMPLES_PER_FRAME, LocalAudio, Probe
from labpbx.phones.process import main

MIC_HZ = 1000.0


def _mic_frame(index: int) -> bytes:
    start = index * SAMPLES_PER_FRAME
    return struct.pack(f"<{SAMPLES_PER_FRAME}h", *(
        round(8000 * math.sin(2 * math.pi * MIC_HZ * (start + i) / CLOCK_RATE))
        for i in range(SAMPLES_PER_FRAME)))


def _fake_probe() -> Probe:
    return Probe(True, "local audio: fake sound card", "fake-in", "fake-out")


def _fake_start(self: LocalAudio) -> None:
    stop = threading.Event()
    report: dict[str, Any] = {"frames": 0, "loud_frames": 0}

    def card() -> None:
        index = 0
        while not stop.wait(0.02):
            out = bytearray(FRAME_BYTES)
            self._on_stream(_mic_frame(index), out, SAMPLES_PER_FRAME, None, None)
            index += 1
            samples = struct.unpack(f"<{SAMPLES_PER_FRAME}h", bytes(out))
            report["frames"] += 1
            if max(abs(s) for s in samples) > 1000:
                report["loud_frames"] += 1

    thread = threading.Thread(target=card, name="fake-portaudio", daemon=True)
    thread.start()
    self._stream = (stop, thread, report)


def _fake_stop(self: LocalAudio) -> None:
    fake, self._stream = self._stream, None
    if fake is None:
        return
    stop, thread, report = fake
    stop.set()
    thread.join(2)
    with open(os.environ["FAKE_AUDIO_REPORT"], "w", encoding="utf-8") as out:
        json.dump(report, out)


agent.probe = _fake_probe  # type: ignore[attr-defined]
localaudio.LocalAudio.start = _fake_start  # type: ignore[method-assign]
localaudio.LocalAudio.stop = _fake_stop  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
