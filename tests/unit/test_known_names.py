"""A misspelled variable is named with the closest one the forwarder reads, instead of changing nothing."""

from __future__ import annotations

import pytest

from forwarder.settings.known_names import known_variables, unknown_variables


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("FORWARDER_STARTAT", "FORWARDER_START_AT"),
        ("FORWARDER_SPLUNK_HEC_URL", "FORWARDER_SPLUNK_HEC__URL"),
        ("FORWARDER_SINK", "FORWARDER_SINKS"),
        ("CLOUDFLARE_ACCOUNT_IDS", "FORWARDER_ACCOUNT_IDS"),
        ("CLOUDFLARE_API_TOKN_FILE", "CLOUDFLARE_API_TOKEN_FILE"),
        ("forwarder_startat", "FORWARDER_START_AT"),
    ],
)
def test_a_typo_is_named_with_the_closest_variable(typo: str, meant: str) -> None:
    [problem] = unknown_variables({typo: "x"})
    assert problem == (
        f"{typo.upper()} is not a variable this forwarder reads, so it changes nothing; did you mean {meant}?"
    )


def test_a_name_like_nothing_gets_no_guess() -> None:
    assert unknown_variables({"FORWARDER_ZEBRA": "1"}) == [
        "FORWARDER_ZEBRA is not a variable this forwarder reads, so it changes nothing"
    ]


def test_known_names_their_file_variants_and_other_prefixes_pass() -> None:
    environ = {
        "FORWARDER_START_AT": "7d",
        "CLOUDFLARE_API_TOKEN_FILE": "/run/secrets/token",
        "FORWARDER_ELASTICSEARCH__URL": "https://es:9200",  # a sink's variable, whether or not it is chosen
        "FORWARDER_SPLUNK_HEC__CA_BUNDLE": "/ca.pem",  # a deprecated name is still read
        "OTEL_SERVICE_NAME": "x",
        "HOME": "/root",
    }
    assert unknown_variables(environ) == []


def test_every_model_contributes_names() -> None:
    known = known_variables()
    # One name from each model, so a model left out of the walk fails here.
    for name in ("FORWARDER_ACCOUNT_IDS", "FORWARDER_KUBERNETES_REQUEST_TIMEOUT", "FORWARDER_SYSLOG__HOST"):
        assert name in known
    for name in ("FORWARDER_FILE__PATH", "FORWARDER_SPLUNK_HEC__TOKEN", "FORWARDER_ELASTICSEARCH__API_KEY"):
        assert name in known


def test_the_chosen_sinks_models_first_give_the_same_answers() -> None:
    """`run`/`once` pass the chosen sinks' models so that the others are not imported; the answer is the
    same: another sink's variable still passes, a typo still gets its closest name from every model."""
    from forwarder.sinks.file import FileSinkSettings

    configured = [FileSinkSettings]
    environ = {
        "FORWARDER_FILE__PATH": "-",
        "FORWARDER_START_AT": "7d",
        "FORWARDER_ELASTICSEARCH__URL": "https://es",
    }
    assert unknown_variables(environ, configured=configured) == []
    for typo in ("FORWARDER_SPLUNK_HEC_URL", "FORWARDER_FILE_PATH", "FORWARDER_STARTAT"):
        assert unknown_variables({typo: "x"}, configured=configured) == unknown_variables({typo: "x"})
        assert "did you mean" in unknown_variables({typo: "x"}, configured=configured)[0]
