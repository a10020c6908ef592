"""Which ``FORWARDER_*``/``CLOUDFLARE_*`` variables the forwarder reads, and the ones it would ignore.

pydantic-settings ignores a variable no field reads, so a typo (a name missing an underscore) would
change nothing and say nothing. Every name set in the environment under our prefixes is compared with the
names the settings models read (the main model, Kubernetes, every installed sink, each also as
``<NAME>_FILE``), and an unknown one is reported with the closest known name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from pydantic_settings import BaseSettings

from forwarder.config_sources import env_name
from forwarder.settings.model import Settings
from forwarder.sinks.base import available_sinks, load_sink_class

PREFIXES = ("FORWARDER_", "CLOUDFLARE_")
FILE_SUFFIX = "_FILE"
# difflib's ratio: 0.8 finds a dropped or doubled underscore or one wrong letter in a long name
# (a start-at without its underscore, a sink variable with one underscore too few) and nothing unrelated.
CLOSE_ENOUGH = 0.8


def variables_of(models: Iterable[type[BaseSettings]]) -> frozenset[str]:
    return frozenset(
        env_name(model, name, field) for model in models for name, field in model.model_fields.items()
    )


def settings_models() -> list[type[BaseSettings]]:
    """The main settings (which include Kubernetes') and every installed sink's settings."""
    models: list[type[BaseSettings]] = [Settings]
    for name in available_sinks():
        try:
            models.append(load_sink_class(name).settings_model)
        except (ValueError, ImportError):
            # A sink that cannot load is reported by load_config when it is chosen; its names stay unknown.
            continue
    return models


def known_variables() -> frozenset[str]:
    """Every variable a settings model reads (without the ``_FILE`` variants, which every name has)."""
    return variables_of(settings_models())


def unknown_variables(
    environ: Mapping[str, str],
    known: frozenset[str] | None = None,
    *,
    configured: Iterable[type[BaseSettings]] = (),
) -> list[str]:
    """One line per ``FORWARDER_*``/``CLOUDFLARE_*`` variable that no setting reads, with a suggestion.

    ``configured``: the chosen sinks' models. When they and the main model read every variable set
    (the usual case), the other installed sinks are not imported at all: importing every sink (Azure,
    OpenTelemetry's protobuf, ...) would triple the start-up cost of a `once` with nothing to do.
    Otherwise every model is read, so the answer is the same either way.
    """
    ours = [
        variable for variable in sorted({name.upper() for name in environ}) if variable.startswith(PREFIXES)
    ]
    if known is None:
        likely = variables_of([Settings, *configured])
        if all(is_known(variable, likely) for variable in ours):
            return []
        known = known_variables()
    problems = []
    for variable in ours:
        name = variable.removesuffix(FILE_SUFFIX)
        if is_known(variable, known):
            continue
        suffix = FILE_SUFFIX if name != variable else ""
        closest = closest_name(name, known)
        hint = f"; did you mean {closest}{suffix}?" if closest else ""
        problems.append(f"{variable} is not a variable this forwarder reads, so it changes nothing{hint}")
    return problems


def is_known(variable: str, known: frozenset[str]) -> bool:
    return variable in known or variable.removesuffix(FILE_SUFFIX) in known


def bare(variable: str) -> str:
    for prefix in PREFIXES:
        if variable.startswith(prefix):
            return variable.removeprefix(prefix)
    return variable


def closest_name(name: str, known: frozenset[str]) -> str | None:
    """The known name most like ``name``, compared without the prefix (which every name shares, and which
    would make any two names look alike); a name under the same prefix wins over one under the other."""
    prefix = name.removesuffix(bare(name))
    by_bare = {bare(variable): variable for variable in sorted(known, key=lambda v: v.startswith(prefix))}
    closest = difflib.get_close_matches(bare(name), by_bare, n=1, cutoff=CLOSE_ENOUGH)
    return by_bare[closest[0]] if closest else None
