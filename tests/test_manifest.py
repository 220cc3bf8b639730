"""manifest.yml is a valid Slack app manifest and asks for no more than it needs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests" / "data" / "slack" / "manifest.schema.json"  # copied from shared/slack (Slack's published schema)


def _manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_validates_against_slacks_schema():
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(_manifest())


def test_manifest_rejects_what_the_schema_forbids():
    """The check above can fail: an unknown key is refused by the same validator."""
    schema = json.loads(SCHEMA.read_text())
    broken = _manifest()
    broken["features"]["not_a_feature"] = True
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_least_privilege_scopes_and_features():
    manifest = _manifest()
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == ["chat:write", "commands"]
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/case", "/radar", "/audits", "/worktray"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
