"""Typed settings read from the environment and ``.env``, validated once at start.

Each process has its own class deriving from :class:`ServiceSettings`; entry points build it with
:func:`load_settings` and pass it down. Nothing here is a module-level singleton, so tests build
settings of their own.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AliasChoices, BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from common.logs import setup_logging

log = logging.getLogger(__name__)


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


#: A list given in the environment as comma-separated values: ``A,B,C``.
CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split_commas)]

LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class ServiceSettings(BaseSettings):
    """What every process reads: logging and its own name."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    log_level: Annotated[LogLevel, BeforeValidator(_upper)] = "INFO"
    log_format: Literal["text", "json"] = "text"
    #: The process name in every log line; supervisord sets SUPERVISOR_PROCESS_NAME for us.
    service_name: str = Field(
        default="",
        validation_alias=AliasChoices("SERVICE_NAME", "SUPERVISOR_PROCESS_NAME"),
        description="name shown in log lines",
    )

    def setup_logging(self, default_name: str) -> None:
        """Install the stdout handler this process logs through."""
        setup_logging(self.log_level, self.log_format == "json", self.service_name or default_name)


class MetricsSettings(ServiceSettings):
    """A process that serves Prometheus metrics on a port of its own (0: none)."""

    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)


class PublisherSettings(MetricsSettings):
    """A process that publishes onto the mesh: it connects to every forwarder's XSUB side."""

    zmq_pub_endpoints: CommaList = ("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5557")


class SubscriberSettings(ServiceSettings):
    """A process that reads the mesh: it connects to every forwarder's XPUB side."""

    zmq_sub_endpoints: CommaList = ("tcp://127.0.0.1:5556", "tcp://127.0.0.1:5558")


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def format_validation_error(error: ValidationError) -> str:
    """One line per invalid variable, naming it as it is spelled in the environment."""
    lines = []
    for problem in error.errors():
        name = "_".join(str(part) for part in problem["loc"]).upper() or "(settings)"
        given = problem.get("input")
        lines.append(f"  {name}: {problem['msg']} (got {given!r})")
    return "\n".join(lines)


def load_settings(cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build settings, or exit with status 2 and a message naming every invalid variable."""
    try:
        return cls(**overrides)
    except ValidationError as error:
        print(
            f"CRITICAL invalid settings for {cls.__name__}:\n{format_validation_error(error)}",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
