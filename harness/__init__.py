"""Running the service's real processes on 127.0.0.1: for the tests, the benchmarks and the
load test alike (none of them imports another's helpers).

::

    ports.py      ports without a race: bind 0 and read back, or retry on a taken port
    procs.py      child processes that are always cleaned up; waiting on what they do
    stack.py      the simulator, forwarders, feeders, gateways and the demo stack
    postgres.py   private PostgreSQL clusters and scratch databases
    mesh.py       a SUB socket of our own on the mesh, recording what arrives and when
    load.py       a bounded load from Python, every request recorded
    wrk.py        a steady load by wrk, for latency figures a Python client cannot give
    gray.py       processes frozen (SIGSTOP), HAProxy's view of its replicas as it changes
"""
