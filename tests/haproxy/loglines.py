"""HAProxy's request log lines (haproxy/haproxy.cfg's log-format), read back from a stack's
output: it logs a request only when it failed, was retried or redispatched, or got a 5xx."""

from __future__ import annotations

import re
from dataclasses import dataclass

LINE = re.compile(
    r"\[haproxy\] \S+ (?P<frontend>\S+) (?P<server>\S+) (?P<status>-?\d+) \S+ "
    r"TR/Tw/Tc/Tr/Ta=(?P<timings>\S+) retries=(?P<retries>\S+) term=(?P<term>\S+)"
)


@dataclass(frozen=True)
class Request:
    """One logged request."""

    frontend: str
    server: str  #: backend/server
    status: int
    timings: str  #: TR/Tw/Tc/Tr/Ta, milliseconds
    retries: str  #: "+N" when redispatched to another server
    term: str  #: the termination state; "----" for a normal end

    @property
    def succeeded_plainly(self) -> bool:
        """Answered below 500, at the first try, ended normally: never worth a line."""
        return self.status < 500 and self.retries == "0" and self.term == "----"


def requests(output: str) -> list[Request]:
    """Every request line in ``output``."""
    return [
        Request(m["frontend"], m["server"], int(m["status"]), m["timings"], m["retries"], m["term"])
        for m in LINE.finditer(output)
    ]
