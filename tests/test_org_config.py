"""The organisation config: the demo loads; every error names the file and the line at fault."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workflows.org import WORKTRAY_SUBCOMMANDS, ConfigError, Role, load_organisation, parse_organisation
from worktray import demo

GOOD = """\
name: Test Council
teams:
  - key: u12
    name: Under 12s
    manager_channel: C0U12MGR
    business_support_channel: C0U12BS
  - key: adults
    name: Adults
    manager_channel: C0ADMGR
    business_support_channel: C0ADBS
people:
  - key: amy
    name: Amy Brooke
    chat_user_id: U0AMY
    roles:
      - {team: u12, role: worker}
  - key: maria
    name: Maria Lopez
    chat_user_id: U0MARIA
    roles:
      - team: u12
        role: manager
      - team: adults
        role: manager
"""


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line containing needle (how a reader finds it)."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[occurrence - 1]


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as refused:
        parse_organisation(text, "org.yml")
    return str(refused.value)


def lines_named(message: str) -> list[int]:
    return [int(n) for n in re.findall(r"org\.yml, line (\d+)", message)]


def test_the_demo_config_loads():
    org = load_organisation(demo.DEMO_ORG)
    assert [t.key for t in org.teams] == ["u12", "adults-south", "12plus"]  # 12+: the transfer journey (T1)
    assert org.team("u12").manager_channel == "C0U12MGR"
    assert org.team("u12").business_support_channel == "C0U12BS"
    assert {p.key for p in org.members("u12", Role.BUSINESS_SUPPORT)} == {"sam", "tess"}
    assert org.person_by_chat_id("U0MARIA").key == "maria"
    assert org.teams_of("sam") == ["adults-south", "u12"]
    assert org.has_role("olu", "adults-south", Role.SERVICE_MANAGER)
    assert not org.has_role("maria", "adults-south", Role.MANAGER)


def test_a_good_config_parses():
    org = parse_organisation(GOOD, "org.yml")
    assert org.has_role("maria", "adults", Role.MANAGER)
    assert org.name_of("nobody-here") == "nobody-here" and org.name_of(None) == "nobody"


def test_a_bad_role_names_its_line():
    text = GOOD.replace("role: manager\n      - team: adults", "role: boss\n      - team: adults")
    message = error_of(text)
    assert lines_named(message) == [line_of(text, "role: boss")]
    assert "people.1.roles.0.role" in message
    assert "worker" in message and "business_support" in message  # says what is allowed


def test_an_unknown_team_reference_names_its_line():
    text = GOOD.replace("- team: adults\n", "- team: adultz\n")
    message = error_of(text)
    assert lines_named(message) == [line_of(text, "team: adultz")]
    assert "unknown team 'adultz'" in message and "maria" in message


def test_a_duplicate_person_key_names_the_second_one():
    text = GOOD.replace("key: maria", "key: amy")
    message = error_of(text)
    assert lines_named(message) == [line_of(text, "key: amy", occurrence=2)]
    assert "duplicate person key 'amy'" in message


def test_a_duplicate_team_key_and_chat_id_name_their_lines():
    text = GOOD.replace("key: adults\n", "key: u12\n")
    assert lines_named(error_of(text)) == [line_of(text, "key: u12", occurrence=2)]
    text = GOOD.replace("U0MARIA", "U0AMY")
    assert lines_named(error_of(text)) == [line_of(text, "chat_user_id: U0AMY", occurrence=2)]


def test_a_missing_field_names_the_entry_it_is_missing_from():
    text = GOOD.replace("    chat_user_id: U0MARIA\n", "")
    message = error_of(text)
    assert lines_named(message) == [line_of(text, "key: maria")]
    assert "people.1.chat_user_id" in message and "Field required" in message


def test_an_unknown_field_names_its_line():
    text = GOOD.replace("    name: Amy Brooke\n", "    name: Amy Brooke\n    email: amy@example.org\n")
    assert lines_named(error_of(text)) == [line_of(text, "email:")]


def test_every_error_is_reported_at_once():
    text = GOOD.replace("role: worker", "role: chief").replace("U0MARIA", "")
    assert len(lines_named(error_of(text))) >= 2


@pytest.mark.parametrize(
    "text",
    [
        "teams: [unclosed\n",
        "name: x\n  teams: - bad indentation\n\t- tab",
        "key: 'open quote\n",
    ],
)
def test_text_that_is_not_yaml_is_a_config_error(text):
    message = error_of(text)
    assert message.startswith("org.yml: not valid YAML")


@pytest.mark.parametrize("text", ["", "- just\n- a list\n", "just a string\n"])
def test_yaml_that_is_not_a_mapping_is_a_config_error(text):
    assert lines_named(error_of(text)) == [1]


def test_a_missing_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read the organisation config"):
        load_organisation(tmp_path / "nope.yml")


def test_a_file_that_is_not_utf8_is_a_config_error_naming_the_line(tmp_path: Path):
    """Saved as Windows-1252 (an é in a team's name): the file and line, not UnicodeDecodeError's traceback."""
    path = tmp_path / "worktray.yml"
    path.write_bytes(b"name: Fenshire\nteams:\n  - name: Caf\xe9 team\n")
    with pytest.raises(ConfigError) as refused:
        load_organisation(path)
    assert str(refused.value) == f"{path}, line 3: not UTF-8 text: save the organisation config as UTF-8"


def test_a_file_is_read_and_its_name_is_in_the_errors(tmp_path: Path):
    path = tmp_path / "worktray.yml"
    path.write_text(GOOD.replace("role: worker", "role: chief"), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{path}, line {line_of(GOOD, 'role: worker')}")):
        load_organisation(path)


@pytest.mark.parametrize("word", WORKTRAY_SUBCOMMANDS)
def test_a_team_key_that_is_a_worktray_subcommand_names_the_team_and_its_line(word):
    """`/worktray deputy` is the act-for command, so a team keyed "deputy" could never be shown
    with `/worktray <team>`: refused at start-up, naming the team and the line of its key."""
    text = GOOD.replace("key: adults\n", f"key: {word}\n").replace("- team: adults\n", f"- team: {word}\n")
    message = error_of(text)
    assert lines_named(message) == [line_of(text, f"key: {word}")]
    assert f"teams.1.key: Value error, team 'Adults' has the key '{word}', which /worktray reads as a sub-command" in message
    assert "give the team another key" in message


def test_the_words_the_config_refuses_are_the_ones_worktray_reserves():
    """One list: what /worktray never reads as a team is what the config never lets a team be keyed."""
    from commands import worktray as worktray_command

    assert set(worktray_command.RESERVED) == set(WORKTRAY_SUBCOMMANDS) == {"deputy"}
    for word in WORKTRAY_SUBCOMMANDS:
        with pytest.raises(worktray_command.CommandError):
            worktray_command.parse(word)


def test_a_team_named_deputy_with_another_key_is_fine():
    """/worktray reads team keys only, so only the key may not be a sub-command."""
    org = parse_organisation(GOOD.replace("name: Adults\n", "name: Deputy\n"), "org.yml")
    assert org.team("adults").name == "Deputy"
