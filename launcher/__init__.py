"""The native stack: every process of the service on 127.0.0.1, run by supervisord.

``python -m launcher demo`` runs it against the exchange simulator, ``python -m launcher run``
against the real exchanges. The process table in :mod:`launcher.stack` is the one description
of the stack; ``compose.yaml`` is checked against it.
"""
