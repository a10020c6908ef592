"""Every setting of the forwarder, read from environment variables (and ``<NAME>_FILE``).

The README's variable reference is generated from these models (``make docs``), so the
``description`` of a field is user documentation. Each sink has its own model next to its code
(``FORWARDER_<SINK>__*``); :func:`load_config` reads the main model and the chosen sinks' models
together so that a person sees every problem in one message.
"""

from forwarder.settings.loading import Config, ConfigurationError, SinkConfig, load_config, read_settings
from forwarder.settings.model import Settings
from forwarder.settings.values import parse_duration, resolve_start, split_list

__all__ = [
    "Config",
    "ConfigurationError",
    "Settings",
    "SinkConfig",
    "load_config",
    "parse_duration",
    "read_settings",
    "resolve_start",
    "split_list",
]
