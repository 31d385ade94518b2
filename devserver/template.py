"""Reads ``template.yaml``: the functions, their HttpApi routes and other event sources, the tables,
queues and event buses, and the functions' environment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """Keeps CloudFormation's short tags (``!Ref X`` becomes ``{"Ref": "X"}``)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@dataclass(frozen=True)
class Function:
    """An ``AWS::Serverless::Function``: its logical id, code, handler and timeout (seconds)."""

    name: str
    code_dir: Path
    handler: str
    timeout: int = 20


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: Function
    authorized: bool
    pattern: re.Pattern[str]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


def load() -> dict[str, Any]:
    with TEMPLATE.open() as handle:
        parsed: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return parsed


def _path_pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", path)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(regex)


def functions(template: dict[str, Any]) -> dict[str, Function]:
    default_timeout = int(template.get("Globals", {}).get("Function", {}).get("Timeout", 3))  # Lambda's default: 3
    return {
        name: Function(name, ROOT / props["CodeUri"], props["Handler"], int(props.get("Timeout", default_timeout)))
        for name, props in _named_resources(template, "AWS::Serverless::Function")
    }


def routes(template: dict[str, Any]) -> list[Route]:
    api = next(props for props in _resources(template, "AWS::Serverless::HttpApi"))
    default_authorizer = api.get("Auth", {}).get("DefaultAuthorizer")
    found = []
    for function, event in _events(template, "HttpApi"):
        authorizer = event.get("Auth", {}).get("Authorizer", default_authorizer)
        found.append(
            Route(
                method=event["Method"].upper(),
                path=event["Path"],
                function=function,
                authorized=authorizer not in (None, "NONE"),
                pattern=_path_pattern(event["Path"]),
            )
        )
    return found


@dataclass(frozen=True)
class EventSource:
    """A function's non-HTTP trigger: ``SQS``, ``DynamoDB`` or ``Schedule``, with its properties;
    ``source`` is the logical id of the queue or table it reads (None for a schedule)."""

    function: Function
    kind: str
    source: str | None
    properties: dict[str, Any]


def event_sources(template: dict[str, Any]) -> list[EventSource]:
    found = []
    for kind, key in (("SQS", "Queue"), ("DynamoDB", "Stream"), ("Schedule", None)):
        for function, event in _events(template, kind):
            found.append(EventSource(function, kind, logical_id(event[key]) if key else None, event))
    return found


def logical_id(reference: Any) -> str:
    """The resource a ``!Ref X`` or ``!GetAtt X.Attribute`` points to."""
    if isinstance(reference, dict) and "Ref" in reference:
        return str(reference["Ref"])
    if isinstance(reference, dict) and "Fn::GetAtt" in reference:
        target = reference["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".")[0])
    raise ValueError(f"not a reference to a resource: {reference!r}")


def queues(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(_named_resources(template, "AWS::SQS::Queue"))


def event_buses(template: dict[str, Any]) -> list[str]:
    return [name for name, _ in _named_resources(template, "AWS::Events::EventBus")]


def _events(template: dict[str, Any], kind: str) -> list[tuple[Function, dict[str, Any]]]:
    known = functions(template)
    return [
        (known[name], event["Properties"])
        for name, props in _named_resources(template, "AWS::Serverless::Function")
        for event in props.get("Events", {}).values()
        if event.get("Type") == kind
    ]


def tables(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """CreateTable requests for every ``AWS::DynamoDB::Table``, named by logical id."""
    requests = {}
    for name, props in _named_resources(template, "AWS::DynamoDB::Table"):
        request = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in props:
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if "StreamSpecification" in props:
            request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        requests[name] = request
    return requests


def global_environment(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, str]:
    """The Globals environment with ``!Ref`` resolved: parameters to local values, resources to
    their logical id (the local table names). Every condition is false locally (no custom domain,
    no publisher elsewhere, secrets as plain variables), so ``!If`` takes its second branch."""
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})

    def substitute(match: re.Match[str]) -> str:
        return parameters.get(match.group(1), match.group(1))

    def resolve(value: Any) -> str | None:
        if isinstance(value, str):
            return value
        if value == {"Ref": "AWS::NoValue"}:
            return None
        if isinstance(value, dict) and "Ref" in value:
            ref = str(value["Ref"])
            return parameters.get(ref, ref)
        if isinstance(value, dict) and "Fn::Sub" in value:
            return re.sub(r"\$\{(\w+)\}", substitute, value["Fn::Sub"])
        if isinstance(value, dict) and "Fn::If" in value:
            return resolve(value["Fn::If"][2])
        return None

    return {key: text for key, value in variables.items() if (text := resolve(value)) is not None}


def _named_resources(template: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, resource.get("Properties", {}))
        for name, resource in template.get("Resources", {}).items()
        if resource.get("Type") == kind
    ]


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [props for _, props in _named_resources(template, kind)]
