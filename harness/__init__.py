"""Running the service's real processes on 127.0.0.1: for the tests, the benchmarks and the
load test alike (none of them imports another's helpers).

::

    ports.py      ports without a race: bind 0 and read back, or retry on a taken port
    procs.py      child processes that are always cleaned up; waiting on what they do
    stack.py      the simulator, forwarders, feeders, gateways and the demo stack
    postgres.py   private PostgreSQL clusters and scratch databases
    mesh.py       a SUB socket of our own on the mesh, recording what arrives and when
"""
