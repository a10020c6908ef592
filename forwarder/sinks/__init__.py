"""Sinks: one protocol each. ``base`` holds the contract, the result vocabulary and the registry;
``_http`` the kit every HTTP sink is built on; ``file`` and one folder per other sink (see
CONTRIBUTING.md, "Adding a sink")."""
