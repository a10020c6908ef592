"""Reading every setting at once: the main model and the chosen sinks', every problem in one message."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from forwarder.config_sources import ValueFileError, env_name
from forwarder.settings.model import Settings
from forwarder.settings.values import split_list
from forwarder.sinks.base import Sink, SinkSettings, load_sink_class


class ConfigurationError(Exception):
    """Every configuration problem at once, one line each, naming the variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {line}" for line in problems))
        self.problems = problems


@dataclass(frozen=True)
class SinkConfig:
    sink_class: type[Sink]
    settings: SinkSettings

    def build(self) -> Sink:
        return self.sink_class(self.settings)


@dataclass(frozen=True)
class Config:
    settings: Settings
    sinks: tuple[SinkConfig, ...]


def describe_errors(model: type[BaseSettings], error: ValidationError) -> list[str]:
    """pydantic's errors as ``VARIABLE: what is wrong`` lines (never the value: it may be secret)."""
    by_alias = {(field.alias or name): name for name, field in model.model_fields.items()}
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        location = item["loc"]
        message = str(item["msg"]).removeprefix("Value error, ")
        if not location:
            lines.extend(message.splitlines())
            continue
        key = str(location[0])
        name = by_alias.get(key, key)
        field = model.model_fields.get(name)
        variable = env_name(model, name, field) if field is not None else key.upper()
        lines.append(f"{variable}: {message}")
    return lines


def read_settings(model: type[BaseSettings]) -> tuple[Any, list[str]]:
    """Instantiate ``model`` from the environment; the problems instead of an exception."""
    try:
        return model(), []
    except ValidationError as error:
        return None, describe_errors(model, error)
    except ExceptionGroup as group:
        return None, [str(item) for item in group.exceptions if isinstance(item, ValueFileError)]


def load_config() -> Config:
    """Read and check all settings; raise ConfigurationError listing every problem."""
    settings, problems = read_settings(Settings)
    names = settings.sinks if settings is not None else split_list_env_sinks()
    sinks: list[SinkConfig] = []
    for name in names:
        try:
            sink_class = load_sink_class(name)
        except (ValueError, ImportError) as error:
            problems.append(f"FORWARDER_SINKS: sink {name!r} cannot be loaded: {error}")
            continue
        sink_settings, sink_problems = read_settings(sink_class.settings_model)
        problems.extend(sink_problems)
        if sink_settings is not None:
            sinks.append(SinkConfig(sink_class, sink_settings))
    if settings is not None:
        problems.extend(unmappable(settings, sinks))
    if problems:
        raise ConfigurationError(problems)
    assert settings is not None
    return Config(settings=settings, sinks=tuple(sinks))


# Formats that have no mapping for a log type yet: such a pair is refused at start rather than every
# event of it going to the dead letters. Every format maps every log type today.
UNMAPPED: dict[tuple[str, str], str] = {}


def unmappable(settings: Settings, sinks: list[SinkConfig]) -> list[str]:
    """Log types a chosen sink has no destination or mapping for: refused, never misdelivered."""
    problems = []
    for sink in sinks:
        carried = sink.sink_class.log_types
        fmt = str(getattr(sink.settings, "format", ""))
        prefix = str(sink.settings.model_config.get("env_prefix", ""))
        for log_type in settings.log_types:
            reason = UNMAPPED.get((fmt, str(log_type)))
            if carried is not None and log_type not in carried:
                problems.append(
                    f"FORWARDER_LOG_TYPES: the {sink.sink_class.name} sink cannot carry {log_type} yet; "
                    "leave it out, or send it to another sink"
                )
            elif reason:
                problems.append(
                    f"{prefix}FORMAT: {fmt} cannot carry {log_type} ({reason}); choose ecs or ocsf for this "
                    f"sink, or leave {log_type} out of FORWARDER_LOG_TYPES"
                )
    return problems


def split_list_env_sinks() -> list[str]:
    """The sink names from the environment when the main settings did not validate."""
    value = split_list(os.environ.get("FORWARDER_SINKS", "file"))
    return [str(item) for item in value] if isinstance(value, list) else ["file"]
