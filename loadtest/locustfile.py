"""Users of the rates API, as a crypto exchanger's apps use it.

* Pollers (most): the full list, again and again, with the ``If-None-Match`` of their last
  answer.
* Filterers: one direction, a base, a quote or an exchanger, sometimes through ``/courses``.
* Misusers (a few): invalid values, which must be refused with 422 and the valid ones listed.

Every answer is checked (status, shape, tag) by ``contract.py``, the API's contract written
out as a client knows it (a test keeps it equal to the gateway's); a wrong answer counts as a
failure. This folder stands alone: it runs in locust's own image too.

``LOADTEST_USER_RPS`` sets each user's pace (requests a second, 1 by default; 0: flat out).
A user stands for one client service: ``make bench`` runs 100 of them at 17 a second.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

from contract import DIRECTIONS, problems  # pylint: disable=import-error
from locust import FastHttpUser, User, constant, constant_throughput, task
from locust.env import Environment


def pace() -> Callable[[User], float]:
    """Each user's wait between requests: ``LOADTEST_USER_RPS`` a second, or none at 0."""
    rate = float(os.environ.get("LOADTEST_USER_RPS", "1"))
    return constant_throughput(rate) if rate > 0 else constant(0)


class RatesUser(FastHttpUser):
    """A client that remembers its last tag per query and checks every answer."""

    abstract = True
    wait_time = pace()

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        #: query -> the tag of its last 200
        self.tags: dict[str, str] = {}

    def courses(
        self,
        path: str,
        name: str,
        directions: tuple[str, ...] = DIRECTIONS,
        exchanger: str | None = None,
        conditional: bool = True,
    ) -> None:
        """GET ``path``, conditionally on the last tag seen for it, and check the answer."""
        sent = self.tags.get(path) if conditional else None
        headers = {"If-None-Match": sent} if sent else {}
        with self.client.get(path, headers=headers, name=name, catch_response=True) as response:
            if response.status_code == 304:
                if sent is None:
                    response.failure("304 without If-None-Match")
                elif response.content:
                    response.failure("304 with a body")
                elif response.headers.get("etag") != sent:
                    response.failure("304 with another tag")
                else:
                    response.success()
            elif response.status_code == 200:
                problem = problems(response, directions, exchanger)
                if problem:
                    response.failure(problem)
                else:
                    self.tags[path] = response.headers["etag"]
                    response.success()
            else:
                response.failure(f"status {response.status_code}")


class Poller(RatesUser):
    """The full list, polled with If-None-Match."""

    weight = 16

    @task
    def poll(self) -> None:
        self.courses("/api/v1/courses", "/api/v1/courses (poll)")


class Filterer(RatesUser):
    """Narrower questions."""

    weight = 3

    @task(3)
    def direction(self) -> None:
        chosen = tuple(sorted(random.sample(DIRECTIONS, 2), key=DIRECTIONS.index))
        self.courses(f"/api/v1/courses?direction={','.join(chosen)}", "?direction", chosen)

    @task(2)
    def base(self) -> None:
        base = random.choice(("BTC", "ETH", "USDTTRC", "USDTERC"))
        expected = tuple(d for d in DIRECTIONS if d.startswith(base + "-"))
        self.courses(f"/api/v1/courses?base={base}", "?base", expected)

    @task(2)
    def quote(self) -> None:
        quote = random.choice(("USD", "RUB"))
        expected = tuple(d for d in DIRECTIONS if d.endswith("-" + quote))
        self.courses(f"/courses?quote={quote}", "/courses?quote", expected)

    @task(1)
    def exchanger(self) -> None:
        exchanger, spelling = random.choice(
            (("binance", "binance"), ("coingecko", "coingecko"), ("coingecko", "coingeko"))
        )
        self.courses(f"/api/v1/courses?exchanger={spelling}", "?exchanger", exchanger=exchanger)


class Misuser(RatesUser):
    """Invalid values: 422, naming the valid ones."""

    weight = 1

    @task
    def invalid(self) -> None:
        """One invalid value of the four parameters."""
        query, listed = random.choice(
            (
                ("direction=BTC-EUR", "BTC-USD"),
                ("base=DOGE", "USDTTRC"),
                ("quote=EUR", "RUB"),
                ("exchanger=kraken", "coingeko"),
            )
        )
        with self.client.get(
            f"/api/v1/courses?{query}", name="invalid (422)", catch_response=True
        ) as response:
            if response.status_code == 422 and listed in response.json().get("detail", ""):
                response.success()
            else:
                response.failure(f"status {response.status_code} for {query}")
