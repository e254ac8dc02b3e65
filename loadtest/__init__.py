"""The load test: locust's users (locustfile.py) and the runs that measure the service with
them (``python -m loadtest.run``, ``make bench``)."""
