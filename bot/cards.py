"""The platform-neutral card and form model.

Views build these; ``bot.blockkit`` renders them for Slack, ``bot.console``
as text, and later an Adaptive Cards renderer for Teams. Every string here is
plain text: renderers escape it, so text a user typed can never ping a
channel, mention someone or smuggle in a link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Button:
    label: str
    action: str  # what the adapter routes on, e.g. "approve"
    value: str  # e.g. the request ID
    style: Literal["primary", "danger"] | None = None
    confirm: str | None = None  # ask "are you sure?" with this text first


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass
class Section:
    heading: str
    lines: list[str] = field(default_factory=list)


@dataclass
class Card:
    title: str
    facts: list[Fact] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    footer: str | None = None

    @property
    def fallback_text(self) -> str:
        """Notification text: the title only (it carries no personal details)."""
        return self.title


@dataclass(frozen=True)
class Option:
    value: str
    label: str


FieldKind = Literal["select", "date", "text", "textarea", "checkboxes", "multiselect"]


@dataclass
class FormField:
    key: str
    label: str
    kind: FieldKind
    options: list[Option] = field(default_factory=list)
    initial: str | list[str] | None = None
    optional: bool = False
    hint: str | None = None


@dataclass
class Form:
    """A modal: what is asked, and where the answer goes (callback + metadata)."""

    callback: str
    title: str
    submit: str
    metadata: str
    fields: list[FormField] = field(default_factory=list)
    intro: list[str] = field(default_factory=list)


FormValues = dict[str, str | list[str] | None]
