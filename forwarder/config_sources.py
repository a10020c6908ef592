"""Where settings come from, shared by the main settings and every sink's settings.

Every variable can also be given as ``<NAME>_FILE``: the path of a file holding the value (how
Kubernetes and Docker mount secrets). A value read from a file has its trailing newline removed.
Setting both ``NAME`` and ``NAME_FILE`` is an error, because one of them would be ignored silently.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource


def env_name(model: type[BaseSettings], field_name: str, field: FieldInfo) -> str:
    """The environment variable a field is read from."""
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias.upper()
    prefix = str(model.model_config.get("env_prefix", ""))
    return f"{prefix}{field_name}".upper()


class ValueFileError(ValueError):
    """A ``*_FILE`` variable that cannot be used; carries the variable it is about."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class FileValueSource(PydanticBaseSettingsSource):
    """Reads ``<NAME>_FILE`` for every field: secrets mounted as files never sit in the env."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ reads every field at once so it can report all problems together.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        problems: list[ValueFileError] = []
        environ = {key.upper(): value for key, value in os.environ.items()}
        for field_name, field in self.settings_cls.model_fields.items():
            name = env_name(self.settings_cls, field_name, field)
            path = environ.get(f"{name}_FILE")
            if not path:
                continue
            if environ.get(name):
                problems.append(ValueFileError(f"{name}_FILE", f"set together with {name}; set only one"))
                continue
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as error:
                problems.append(ValueFileError(f"{name}_FILE", f"cannot read {path!r}: {error.strerror}"))
                continue
            values[field.alias or field_name] = text.rstrip("\r\n")
        if problems:
            raise ExceptionGroup("unreadable *_FILE variables", problems)
        return values


class EnvironmentSettings(BaseSettings):
    """Settings read from init arguments (tests), then the environment, then ``*_FILE``; no .env files."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, FileValueSource(settings_cls)
