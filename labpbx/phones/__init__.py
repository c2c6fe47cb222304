"""Virtual telephone extensions: pjsua2 phones that register with the lab proxy.

policy.py (pure) decides how an extension answers; commands.py (pure) parses the stdin protocol;
agent.py is the only pjsua2 importer; process.py is the ``labpbx phone`` process around it.
Importing this package imports no pjsua2.
"""
