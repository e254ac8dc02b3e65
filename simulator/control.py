"""The control API: inject and clear faults, look at the simulator's state.

::

    POST   /_control/faults   {"target": "binance-ws", "fault": "stall", "seconds": 5}
                              optional: "port" (one binance-ws listener),
                              "status" (for 5xx: 500, 502 or 503);
                              for skew, "percent" (required: 10 multiplies prices by 1.1)
                              and "instruments" (e.g. ["USDCUSDT"], ["bitcoin.rub"]);
                              "fault": "clear" clears that target (or port)
    DELETE /_control/faults   clears everything, or ?target=...[&port=...]
    GET    /_control/faults   the faults in force
    GET    /_control/state    ports, prices, CoinGecko snapshot, faults, connections (and
                              those a fault holds unanswered), counters
    GET    /_control/healthz  {"status": "ok"}

Bad input is answered 400 (not JSON) or 422 (wrong fields or values) with a message that lists
the valid targets and faults.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgspec

from simulator.faults import CLEAR, TARGET_FAULTS, TARGETS, Fault, FaultError
from simulator.http import Request, Response, json_response


class FaultRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of ``POST /_control/faults``."""

    target: str
    fault: str
    seconds: float | None = None
    port: int | None = None
    status: int | None = None
    percent: float | None = None
    instruments: list[str] = []


class Controlled(Protocol):
    """What the control API drives: the simulator."""

    async def inject(
        self,
        target: str,
        fault: str,
        seconds: float | None,
        port: int | None,
        status: int | None,
        *,
        percent: float | None,
        instruments: tuple[str, ...],
    ) -> Fault:
        """Put a fault in force."""

    async def clear(self, target: str | None, port: int | None) -> list[Fault]: ...

    def describe(self, fault: Fault) -> dict[str, Any]: ...

    def active_faults(self) -> list[Fault]: ...

    def state(self) -> dict[str, Any]: ...


def _problem(status: int, message: str) -> Response:
    valid = {target: [*faults, CLEAR] for target, faults in TARGET_FAULTS.items()}
    return json_response(
        status, {"error": message, "valid_targets": list(TARGETS), "valid_faults": valid}
    )


class ControlApi:
    """Routes control requests to the simulator."""

    def __init__(self, simulator: Controlled) -> None:
        self.simulator = simulator
        self._routes: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {
            "/_control/healthz": {"GET": self._healthz},
            "/_control/state": {"GET": self._state},
            "/_control/faults": {"GET": self._list, "POST": self._inject, "DELETE": self._clear},
        }

    async def __call__(self, request: Request) -> Response:
        methods = self._routes.get(request.path.rstrip("/"))
        if methods is None:
            return json_response(404, {"error": f"no such endpoint {request.path}"})
        method = "GET" if request.method == "HEAD" else request.method
        if method not in methods:
            allowed = ", ".join(methods)
            return json_response(405, {"error": f"use {allowed}"}, [("Allow", allowed)])
        return await methods[method](request)

    async def _healthz(self, _request: Request) -> Response:
        return json_response(200, {"status": "ok"})

    async def _state(self, _request: Request) -> Response:
        return json_response(200, self.simulator.state())

    async def _list(self, _request: Request) -> Response:
        return json_response(200, self._faults())

    def _faults(self) -> dict[str, Any]:
        return {"faults": [self.simulator.describe(f) for f in self.simulator.active_faults()]}

    async def _inject(self, request: Request) -> Response:
        try:
            body = msgspec.json.decode(request.body, type=FaultRequest)
        except msgspec.ValidationError as error:
            return _problem(422, f"invalid fault request: {error}")
        except msgspec.DecodeError as error:
            return _problem(400, f"the body is not JSON: {error}")
        try:
            if body.fault == CLEAR:
                return self._cleared(await self.simulator.clear(body.target, body.port))
            fault = await self.simulator.inject(
                body.target,
                body.fault,
                body.seconds,
                body.port,
                body.status,
                percent=body.percent,
                instruments=tuple(body.instruments),
            )
        except FaultError as error:
            return _problem(422, str(error))
        return json_response(200, {"injected": self.simulator.describe(fault), **self._faults()})

    async def _clear(self, request: Request) -> Response:
        target, port = request.param("target"), request.param("port")
        if port is not None and not port.isdigit():
            return _problem(422, f"port must be a number, got {port!r}")
        try:
            return self._cleared(await self.simulator.clear(target, int(port) if port else None))
        except FaultError as error:
            return _problem(422, str(error))

    def _cleared(self, cleared: list[Fault]) -> Response:
        described = [self.simulator.describe(fault) for fault in cleared]
        return json_response(200, {"cleared": described, **self._faults()})
