"""Virtual telephone extensions: pjsua2 phones that register with the lab proxy.

Pure (no pjsua2, no threads): policy.py decides how an extension answers; commands.py parses the
stdin protocol and call targets; config.py checks a phone's configuration against the wheel's
limits; legs.py keeps the extensions and call legs; pacing.py holds ring timers and call pacing;
voice.py builds the voice WAV; mwi.py reads a message-summary NOTIFY. I/O: agent.py is the only
pjsua2 importer; localaudio.py the only sounddevice user; stdio.py keeps pjlib's banner off
stdout; process.py is ``labpbx phone``.
Importing this package imports no pjsua2.
"""
