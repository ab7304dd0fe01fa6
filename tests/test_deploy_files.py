"""The deploy files, checked against the code since none of them can run here.

Settings come from `Settings.model_fields` (plus the variables the code reads from the
environment itself); Slack events and commands from the registered Bolt listeners; Web API
methods from the calls in `bot/`. A new setting, listener or Web API call fails these tests
until the deploy files (and the method's scopes, below) say so.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient

from bot.observability.metrics import Metrics
from bot.observability.readiness import Readiness
from bot.observability.server import http_server
from bot.settings import Settings
from tests.weaviate_server import BEHAVIOUR, TAG

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
CODE = [*(ROOT / "bot").rglob("*.py"), *(ROOT / "knowledge").rglob("*.py")]

TOML_ONLY = {"sources", "access"}
"""Fields that come from the TOML file named by LOREBOT_CONFIG, never from a variable."""

LIBRARY_VARIABLES = {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}
"""Set in the image for libraries (offline model loading), not read by lorebot."""

# Slack's scope for each Web API method lorebot may call (docs.slack.dev/reference/methods/<method>).
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    "apps.connections.open": set(),  # the app-level token's connections:write, not a bot scope
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "chat.delete": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "assistant.threads.setStatus": {"chat:write"},  # since 2026-03 (assistant:write still accepted for now)
    "assistant.threads.setSuggestedPrompts": {"assistant:write"},
    "assistant.threads.setTitle": {"assistant:write"},
    "views.publish": set(),
    "conversations.info": {"channels:read", "groups:read", "im:read", "mpim:read"},
    "users.info": {"users:read", "users:read.email"},  # lorebot reads profile.email
    # the conversation types lorebot listens in (no mpim events are subscribed)
    "conversations.replies": {"channels:history", "groups:history", "im:history"},
    "reactions.add": {"reactions:write"},
}
# Slack's scope for each bot event (docs.slack.dev/reference/events/<event>); None: no scope.
EVENT_SCOPES: dict[str, str | None] = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
    "app_home_opened": None,
    "assistant_thread_started": None,
    "assistant_thread_context_changed": None,
}


# -- what the code reads and does ---------------------------------------------------------------


def _read_from_environment() -> set[str]:
    """Variables the code reads from os.environ itself (LOREBOT_CONFIG)."""
    pattern = re.compile(r"""os\.environ(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]*)["']""")
    return {name for path in CODE for name in pattern.findall(path.read_text())}


SETTINGS = {name.upper() for name in Settings.model_fields if name not in TOML_ONLY} | _read_from_environment()
SECRETS = {
    name.upper()
    for name, field in Settings.model_fields.items()
    if field.annotation is SecretStr or SecretStr in getattr(field.annotation, "__args__", ())
}


def _web_api_methods() -> set[str]:
    """Slack methods called in bot/ through the Web API client (`client.chat_postMessage(` → chat.postMessage)."""
    calls = re.compile(r"\.([a-z]+_[A-Za-z_]+)\b")  # called, or passed on (`partial(client.chat_update, …)`)
    return {
        name.replace("_", ".")
        for path in (ROOT / "bot").rglob("*.py")
        for name in calls.findall(path.read_text())
        if name != "api_call" and callable(getattr(AsyncWebClient, name, None))
    }


def _listeners() -> tuple[set[str], set[str]]:
    """Events and slash commands with a registered Bolt listener (`app.event("…")`, `app.command("/…")`)."""
    source = "\n".join(path.read_text() for path in (ROOT / "bot" / "slack").rglob("*.py"))
    events = set(re.findall(r"""\.event\(\s*["']([a-z_]+)["']""", source))
    commands = set(re.findall(r"""\.command\(\s*["'](/[a-z_-]+)["']""", source))
    return events, commands


# -- what the deploy files say ------------------------------------------------------------------


def _documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def _commented_keys(path: Path, separator: str) -> set[str]:
    """Keys written as a commented line (`# NAME: …` / `# NAME=…`): a setting at its default."""
    return set(re.findall(rf"^\s*#\s*([A-Z][A-Z0-9_]*){separator}", path.read_text(), re.MULTILINE))


def _kubernetes() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    return [document for name in kustomization["resources"] for document in _documents(KUBERNETES / name)]


def _of_kind(kind: str, name: str = "lorebot") -> dict[str, Any]:
    [document] = [d for d in _kubernetes() if d["kind"] == kind and d["metadata"]["name"] == name]
    return document


def _env_example() -> tuple[set[str], set[str]]:
    path = DEPLOY / ".env.example"
    given = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", path.read_text(), re.MULTILINE))
    return given, _commented_keys(path, "=")


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


# -- tests --------------------------------------------------------------------------------------


def test_every_yaml_file_parses() -> None:
    paths = [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")]
    assert len(paths) >= 7
    for path in paths:
        assert _documents(path), path


def test_the_settings_are_derived_from_the_code() -> None:
    # The derivation itself: these must be found, or the tests below check nothing.
    assert {"DATABASE_URL", "WEAVIATE_URL", "HTTP_HOST", "HTTP_PORT", "LOG_FORMAT", "LOREBOT_CONFIG"} <= SETTINGS
    assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "LLM_API_KEY", "WEAVIATE_API_KEY"} <= SECRETS
    assert "SOURCES" not in SETTINGS and "DATABASE_URL" not in SECRETS


def test_env_example_names_every_setting_and_nothing_else() -> None:
    given, commented = _env_example()
    assert SETTINGS - given - commented == set(), "add these to deploy/.env.example"
    assert given - SETTINGS == set(), "deploy/.env.example sets variables lorebot does not read"


def test_kubernetes_configmap_and_secret_name_every_setting_and_nothing_else() -> None:
    config = _of_kind("ConfigMap")["data"]
    secret = _of_kind("Secret")["stringData"]
    commented = _commented_keys(KUBERNETES / "configmap.yaml", ":") | _commented_keys(KUBERNETES / "secret.yaml", ":")
    assert SETTINGS - set(config) - set(secret) - commented == set(), "add these to configmap.yaml or secret.yaml"
    assert (set(config) | set(secret)) - SETTINGS == set(), "the manifests set variables lorebot does not read"
    assert SECRETS & (set(config) | _commented_keys(KUBERNETES / "configmap.yaml", ":")) == set()
    assert SECRETS - set(secret) - _commented_keys(KUBERNETES / "secret.yaml", ":") == set()


def test_kubernetes_runs_replicas_on_postgresql_and_weaviate_with_probes() -> None:
    deployment = _of_kind("Deployment")
    config, secret = _of_kind("ConfigMap")["data"], _of_kind("Secret")["stringData"]
    assert deployment["spec"]["replicas"] >= 2
    assert secret["DATABASE_URL"].startswith("postgresql+asyncpg://")  # never the SQLite default
    assert config["WEAVIATE_URL"].startswith("http")  # never the embedded index
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert {source.get("configMapRef", source.get("secretRef"))["name"] for source in container["envFrom"]} == {
        "lorebot"
    }
    assert {variable["name"] for variable in container.get("env", [])} - SETTINGS == set()
    [port] = container["ports"]
    assert port["containerPort"] == int(config["HTTP_PORT"])
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    # LOREBOT_CONFIG names the file the sources ConfigMap is mounted as.
    mount = next(m for m in container["volumeMounts"] if m["name"] == "sources")
    volume = next(v for v in pod["volumes"] if v["name"] == "sources")
    sources = _of_kind("ConfigMap", volume["configMap"]["name"])
    assert config["LOREBOT_CONFIG"] in {f"{mount['mountPath']}/{key}" for key in sources["data"]}


def test_compose_sets_only_settings_and_runs_weaviate_as_the_tests_do() -> None:
    services = _compose()["services"]
    lorebot = services["lorebot"]
    assert set(lorebot["environment"]) - SETTINGS == set()
    assert lorebot["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:" in lorebot["environment"]["DATABASE_URL"]
    assert lorebot["environment"]["WEAVIATE_URL"].startswith("http://weaviate:")
    assert {name: condition["condition"] for name, condition in lorebot["depends_on"].items()} == {
        "postgres": "service_healthy",
        "weaviate": "service_healthy",
    }
    weaviate = services["weaviate"]
    assert weaviate["image"].rsplit(":", 1)[1] == TAG.removeprefix("v")
    assert {name: weaviate["environment"].get(name) for name in BEHAVIOUR} == BEHAVIOUR
    assert weaviate["environment"]["PERSISTENCE_DATA_PATH"] in {v.split(":")[1] for v in weaviate["volumes"]}


def test_dockerfile_is_cpu_torch_offline_model_non_root_with_a_health_check() -> None:
    instructions = _dockerfile()
    runs = " ".join(arguments for instruction, arguments in instructions if instruction == "RUN")
    assert "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in runs
    environment = dict(
        pair.split("=", 1)
        for instruction, arguments in instructions
        if instruction == "ENV"
        for pair in arguments.split()
    )
    assert environment["HF_HUB_OFFLINE"] == "1"
    assert set(environment) - SETTINGS - LIBRARY_VARIABLES == set()
    [user] = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert user not in {"root", "0"}
    # Everything the package is built from is copied in (pyproject's packages, alembic.ini).
    copied = {
        part.rstrip("/").removeprefix("./")
        for instruction, arguments in instructions
        if instruction == "COPY"
        for part in arguments.split()[:-1]
    }
    assert {"pyproject.toml", "README.md", "alembic.ini", "bot", "knowledge", "migrations"} <= copied
    assert all((ROOT / name).exists() for name in copied)


async def test_the_images_health_check_command_passes_against_the_server(tmp_path: Path) -> None:
    [healthcheck] = [arguments for instruction, arguments in _dockerfile() if instruction == "HEALTHCHECK"]
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert "/healthz" in " ".join(command)
    async with http_server("127.0.0.1", 0, Readiness(), Metrics().registry) as port:
        env = {**os.environ, "HTTP_PORT": str(port)}
        command = [sys.executable if part == "python" else part for part in command]
        passed = await _run(command, env)
    assert passed == 0
    assert await _run(command, env) != 0  # and fails when nothing serves


async def _run(command: list[str], env: dict[str, str]) -> int:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return await process.wait()


def test_slack_manifest_subscribes_to_exactly_the_listened_events_and_commands() -> None:
    manifest = yaml.safe_load((DEPLOY / "slack-app-manifest.yaml").read_text())
    events, commands = _listeners()
    assert {"app_mention", "message", "reaction_added", "/ask"} <= events | commands  # the scan finds them
    subscribed = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {event.split(".", 1)[0] for event in subscribed} == events
    assert {command["command"] for command in manifest["features"]["slash_commands"]} == commands
    assert manifest["settings"]["socket_mode_enabled"] is True


def test_slack_manifest_asks_for_exactly_the_scopes_the_code_uses() -> None:
    manifest = yaml.safe_load((DEPLOY / "slack-app-manifest.yaml").read_text())
    methods = _web_api_methods()
    assert {"auth.test", "chat.postMessage", "chat.update", "assistant.threads.setStatus"} <= methods
    unknown = methods - set(METHOD_SCOPES)
    assert not unknown, f"add the scopes of {unknown} to METHOD_SCOPES (docs.slack.dev/reference/methods/…)"
    subscribed = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert set(subscribed) <= set(EVENT_SCOPES), "add the new event's scope to EVENT_SCOPES"
    _, commands = _listeners()
    needed = {scope for method in methods for scope in METHOD_SCOPES[method]}
    needed |= {scope for event in subscribed if (scope := EVENT_SCOPES[event])}
    needed |= {"commands"} if commands else set()
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl renders the kustomization")
def test_kustomize_renders_the_manifests() -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES)], capture_output=True, text=True, check=True
    ).stdout
    kinds = {document["kind"] for document in yaml.safe_load_all(rendered)}
    assert {"Deployment", "ConfigMap", "Secret", "Service", "PodDisruptionBudget"} <= kinds
