"""The Sentinel deployment template (deploy/sentinel/) cannot drift from the ASIM column tables, is an ARM
template Resource Manager accepts, and uses only resource types and API versions Microsoft documents."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.asim_columns import AUDIT_EVENT, AUTHENTICATION, USER_MANAGEMENT, load, stored_columns

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "sentinel"
TEMPLATE_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
PARAMETERS_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"  # Learn: "Azure built-in roles"

# Every (resource type, API version) the template uses, with where Microsoft documents it (read 2026-12-04).
DOCUMENTED = {
    ("Microsoft.OperationalInsights/workspaces/tables", "2022-10-01"): (
        "https://learn.microsoft.com/azure/azure-monitor/logs/tutorial-logs-ingestion-api"
        "#create-new-table-in-log-analytics-workspace"
    ),
    ("Microsoft.Insights/dataCollectionEndpoints", "2021-04-01"): (
        "https://learn.microsoft.com/azure/azure-monitor/logs/tutorial-logs-ingestion-api"
        "#create-data-collection-endpoint"
    ),
    ("Microsoft.Insights/dataCollectionRules", "2023-03-11"): (
        "https://learn.microsoft.com/azure/azure-monitor/logs/tutorial-logs-ingestion-api#create-data-collection-rule"
    ),
    ("Microsoft.Authorization/roleAssignments", "2022-04-01"): (
        "https://learn.microsoft.com/azure/role-based-access-control/role-assignments-template"
        " (2022-04-01, the first stable version)"
    ),
}
# Stream declarations take these types (Learn: "Structure of a data collection rule", streamDeclarations);
# tables spell datetime dateTime (Learn: tutorial-logs-ingestion-api, "Create new table").
STREAM_TYPES = {
    "string": "string",
    "int": "int",
    "long": "long",
    "real": "real",
    "bool": "boolean",
    "datetime": "datetime",
    "dynamic": "dynamic",
}
TABLE_TYPES = {**STREAM_TYPES, "datetime": "dateTime"}
RESERVED = {"_ResourceId", "id", "_SubscriptionId", "TenantId", "Type", "UniqueId", "Title"}
STREAMS = [
    ("authenticationStream", "authenticationTable", AUTHENTICATION),
    ("userManagementStream", "userManagementTable", USER_MANAGEMENT),
    ("auditEventStream", "auditEventTable", AUDIT_EVENT),
]


def read(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DEPLOY / name).read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return read("azuredeploy.json")


def resource(template: dict[str, Any], kind: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [entry for entry in template["resources"] if entry["type"] == kind]
    assert len(found) == 1, kind
    return found[0]


def variable(template: dict[str, Any], expression: str) -> Any:
    """The value of "[variables('name')]", or the expression itself when it is a literal."""
    match = re.fullmatch(r"\[variables\('(\w+)'\)\]", expression)
    return template["variables"][match.group(1)] if match else expression


def test_template_and_parameters_are_arm_documents(template: dict[str, Any]) -> None:
    parameters = read("azuredeploy.parameters.example.json")
    assert template["$schema"] == TEMPLATE_SCHEMA
    assert parameters["$schema"] == PARAMETERS_SCHEMA
    assert template["contentVersion"] == parameters["contentVersion"] == "1.0.0.0"
    required = {name for name, spec in template["parameters"].items() if "defaultValue" not in spec}
    assert required <= set(parameters["parameters"]) <= set(template["parameters"])
    assert set(template["outputs"]) == {
        "logsIngestionEndpoint",
        "dataCollectionRuleImmutableId",
        "authenticationStream",
        "userManagementStream",
        "auditEventStream",
    }


def test_every_resource_type_and_api_version_is_documented(template: dict[str, Any]) -> None:
    used = {(entry["type"], entry["apiVersion"]) for entry in template["resources"]}
    assert used == set(DOCUMENTED)
    # The versions read back in outputs must be ones the resources are deployed with.
    versions = dict(used)
    for output in template["outputs"].values():
        for kind, version in re.findall(
            r"resourceId\('([\w./]+)'.*?'(\d{4}-\d{2}-\d{2})'\)", output["value"]
        ):
            assert versions[kind] == version


@pytest.mark.parametrize(("stream_variable", "table_variable", "table_name"), STREAMS)
def test_streams_and_tables_hold_exactly_the_stored_asim_columns(
    template: dict[str, Any], stream_variable: str, table_variable: str, table_name: str
) -> None:
    table = load(table_name)
    rule = resource(template, "Microsoft.Insights/dataCollectionRules")["properties"]
    stream = template["variables"][stream_variable]
    declared = {variable(template, name): spec for name, spec in rule["streamDeclarations"].items()}
    columns = variable(template, declared[stream]["columns"])
    expected = [(column["name"], STREAM_TYPES[column["type"]]) for column in stored_columns(table)]
    assert [(column["name"], column["type"]) for column in columns] == expected

    table_name_in_workspace = template["variables"][table_variable]
    (workspace_table,) = [
        entry["properties"]["schema"]
        for entry in template["resources"]
        if entry["type"] == "Microsoft.OperationalInsights/workspaces/tables"
        and variable(template, entry["properties"]["schema"]["name"]) == table_name_in_workspace
    ]
    table_columns = variable(template, workspace_table["columns"])
    assert [(column["name"], column["type"]) for column in table_columns] == [
        (column["name"], TABLE_TYPES[column["type"]]) for column in stored_columns(table)
    ]
    assert all(column["description"] for column in table_columns)

    (flow,) = [
        flow for flow in rule["dataFlows"] if [variable(template, s) for s in flow["streams"]] == [stream]
    ]
    assert flow["outputStream"] == f"[format('Custom-{{0}}', variables('{table_variable}'))]"
    assert flow["transformKql"] == "source"
    assert table_name_in_workspace.endswith("_CL")
    assert stream.startswith("Custom-")


@pytest.mark.parametrize("table_name", [AUTHENTICATION, USER_MANAGEMENT, AUDIT_EVENT])
def test_column_names_are_ones_log_analytics_accepts(table_name: str) -> None:
    names = [column["name"] for column in stored_columns(load(table_name))]
    assert "TimeGenerated" in names
    assert not RESERVED & set(names)
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,44}", name) for name in names)


def test_the_role_assignment_grants_monitoring_metrics_publisher_on_the_rule(
    template: dict[str, Any],
) -> None:
    assignment = resource(template, "Microsoft.Authorization/roleAssignments")
    assert (
        assignment["scope"]
        == "[format('Microsoft.Insights/dataCollectionRules/{0}', parameters('dataCollectionRuleName'))]"
    )
    assert template["variables"]["monitoringMetricsPublisher"] == MONITORING_METRICS_PUBLISHER
    assert "variables('monitoringMetricsPublisher')" in assignment["properties"]["roleDefinitionId"]
    assert assignment["properties"]["principalId"] == "[parameters('principalId')]"
    rule = resource(template, "Microsoft.Insights/dataCollectionRules")
    assert rule["kind"] == "Direct"
    assert "dataCollectionEndpoints" in rule["properties"]["dataCollectionEndpointId"]
