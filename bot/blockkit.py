"""Render cards and forms to Slack Block Kit, and read modal values back.

Limits respected here: 50 blocks a message, 100 a modal; section text 3000
characters (2000 per section field); button values 2000; titles 24 characters.
"""

from __future__ import annotations

import re
from typing import Any

from bot.cards import Card, Form, FormField, FormValues

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100


ZWJ = "\u200d"  # zero-width joiner: invisible, and no word boundary, so no markup starts or ends next to it
_MARKUP = re.compile(r"[*_~`]")  # *bold*, _italic_, ~strike~, `code` and ```pre```
_SCHEME = re.compile(r"\b(https?|ftp|mailto|tel|slack)(?=:)", re.IGNORECASE)  # bare links: http://…, mailto:…
_DOT = re.compile(r"(?<=\w)\.(?=\w)")  # www.example.org, example.org, someone@example.org
_AT = re.compile(r"@(?=\w)")  # @channel, @here, someone@…
_EMOJI = re.compile(r":(?=[\w+'-]+:)")  # :shortcode:
_QUOTE = re.compile(r"^&gt;", re.MULTILINE)  # > at the start of a line quotes it


def escape(text: str) -> str:
    """Make any text show literally in Slack mrkdwn: nothing in it formats, links or mentions.

    ``&``, ``<`` and ``>`` are escaped, so <!channel>, <@U…> and <http://…|…> are inert; and a
    zero-width joiner goes beside each markup character, after a link scheme and inside domain
    names, so *bold*, _italic_, ~strike~, `code`, > quotes, :emoji:, @channel and bare links
    (http://…, www.…, mailto:…) show as typed. (The text objects are also ``verbatim``, so Slack
    does not look for links in them itself.)
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKUP.sub(lambda m: ZWJ + m.group(0) + ZWJ, text)
    text = _SCHEME.sub(lambda m: m.group(0) + ZWJ, text)
    text = _DOT.sub("." + ZWJ, text)
    text = _AT.sub("@" + ZWJ, text)
    text = _EMOJI.sub(":" + ZWJ, text)
    return _QUOTE.sub(ZWJ + "&gt;", text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit), "emoji": True}


def _mrkdwn(text: str, limit: int = 3000) -> dict[str, Any]:
    """A mrkdwn text object; ``verbatim``: Slack does not turn URLs or names in it into links."""
    return {"type": "mrkdwn", "text": _clip(text, limit), "verbatim": True}


def card_blocks(card: Card) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(card.title, 150)}]
    if card.facts:
        for start in range(0, len(card.facts), 10):  # a section holds at most 10 fields
            chunk = card.facts[start : start + 10]
            blocks.append(
                {
                    "type": "section",
                    "fields": [_mrkdwn(f"*{escape(f.label)}*\n{escape(f.value) or '-'}", 2000) for f in chunk],  # 2000 a field
                }
            )
    for section in card.sections:
        body = "\n".join(f"• {escape(line)}" for line in section.lines) or "-"
        blocks.append({"type": "section", "text": _mrkdwn(f"*{escape(section.heading)}*\n{body}")})
    if card.buttons:
        for start in range(0, len(card.buttons), 25):
            blocks.append({"type": "actions", "elements": _unique_ids([_button(b) for b in card.buttons[start : start + 25]])})
    if card.footer:
        blocks.append({"type": "context", "elements": [_mrkdwn(escape(card.footer))]})
    if len(blocks) > MAX_MESSAGE_BLOCKS:
        blocks = [*blocks[:MAX_MESSAGE_BLOCKS - 1], {"type": "context", "elements": [_mrkdwn("More detail is in /case status.")]}]
    return blocks


def _unique_ids(elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slack refuses a message (invalid_blocks) whose actions block repeats an action_id, as a card
    with a button of the same action per line would (the Transfer Meeting agenda): the second and
    later get ``#2``, ``#3`` ... appended, which the adapter strips (``button_action``)."""
    seen: dict[str, int] = {}
    for element in elements:
        action_id = element["action_id"]
        seen[action_id] = seen.get(action_id, 0) + 1
        if seen[action_id] > 1:
            element["action_id"] = f"{action_id}#{seen[action_id]}"
    return elements


def button_action(action_id: str) -> str:
    """The action a button's action_id routes to: ``wt:approve`` and ``wt:approve#2`` are "approve"."""
    return action_id.removeprefix("wt:").split("#", 1)[0]


def _button(button: Any) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": f"wt:{button.action}",
        "text": _plain(button.label),
        "value": button.value,
    }
    if button.style:
        element["style"] = button.style
    if button.confirm:
        element["confirm"] = {
            "title": _plain("Are you sure?"),
            "text": _mrkdwn(escape(button.confirm), 300),
            "confirm": _plain("Yes"),
            "deny": _plain("No"),
        }
    return element


def form_view(form: Form) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    if form.intro:
        blocks.append({"type": "section", "text": _mrkdwn("\n".join(escape(line) for line in form.intro))})
    blocks.extend(_input(f) for f in form.fields)
    return {
        "type": "modal",
        "callback_id": form.callback,
        "private_metadata": form.metadata,
        "title": _plain(form.title, 24),
        "submit": _plain(form.submit, 24),
        "close": _plain("Cancel", 24),
        "blocks": blocks[:MAX_VIEW_BLOCKS],
    }


def _options(field: FormField) -> list[dict[str, Any]]:
    return [{"text": _plain(o.label), "value": o.value} for o in field.options[:100]]


def _input(field: FormField) -> dict[str, Any]:
    element: dict[str, Any] = {"action_id": field.key}
    initial = field.initial
    if field.kind == "select":
        element["type"] = "static_select"
        element["options"] = _options(field)
        chosen = [o for o in element["options"] if o["value"] == initial]
        if chosen:
            element["initial_option"] = chosen[0]
    elif field.kind in ("checkboxes", "multiselect"):
        # Slack allows 10 checkboxes; a longer list becomes a multi-select (100 options).
        element["type"] = "checkboxes" if field.kind == "checkboxes" and len(field.options) <= 10 else "multi_static_select"
        element["options"] = _options(field)
        wanted = set(initial or []) if isinstance(initial, list) else set()
        chosen = [o for o in element["options"] if o["value"] in wanted]
        if chosen:
            element["initial_options"] = chosen
    elif field.kind == "date":
        element["type"] = "datepicker"
        if initial:
            element["initial_date"] = initial
    else:
        element["type"] = "plain_text_input"
        if field.kind == "textarea":
            element["multiline"] = True
        if isinstance(initial, str) and initial:
            element["initial_value"] = initial
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field.key,
        "label": _plain(field.label, 2000),
        "element": element,
        "optional": field.optional,
    }
    if field.hint:
        block["hint"] = _plain(field.hint, 2000)
    return block


def read_values(state_values: dict[str, dict[str, dict[str, Any]]]) -> FormValues:
    """``view.state.values`` → {field key: value}, whatever the element type."""
    values: FormValues = {}
    for block_id, actions in state_values.items():
        for element in actions.values():
            kind = element.get("type")
            if kind == "static_select":
                option = element.get("selected_option")
                values[block_id] = option["value"] if option else None
            elif kind in ("checkboxes", "multi_static_select"):
                values[block_id] = [o["value"] for o in element.get("selected_options") or []]
            elif kind == "datepicker":
                values[block_id] = element.get("selected_date")
            else:
                values[block_id] = element.get("value")
    return values


# -- the work tray: the App Home and /worktray (bot.tray_views) ---------------------------------


def _compact(card: Card, *, title: bool = True) -> list[dict[str, Any]]:
    """A tray line: its text in one section and its buttons in one actions block (2 blocks)."""
    parts = [f"*{escape(card.title)}*"] if title else []
    parts += [f"*{escape(f.label)}*: {escape(f.value)}" for f in card.facts]
    for section in card.sections:
        parts.append(f"*{escape(section.heading)}*\n" + ("\n".join(f"• {escape(line)}" for line in section.lines) or "-"))
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _mrkdwn("\n".join(parts))}] if parts else []
    if card.buttons:
        blocks.append({"type": "actions", "elements": _unique_ids([_button(b) for b in card.buttons[:25]])})
    if card.footer:
        blocks.append({"type": "context", "elements": [_mrkdwn(escape(card.footer))]})
    return blocks


def tray_blocks(cards: list[Card], limit: int = MAX_MESSAGE_BLOCKS) -> list[dict[str, Any]]:
    """The tray's cards as blocks: the first a header, each other a compact line, never past ``limit``
    (the views page so this does not bite: 100 blocks a Home view, 50 a message)."""
    blocks: list[dict[str, Any]] = []
    for n, card in enumerate(cards):
        if n == 0:
            blocks += [{"type": "header", "text": _plain(card.title, 150)}, *_compact(card, title=False)]
            continue
        blocks += _compact(card)
    if len(blocks) > limit:
        blocks = [*blocks[: limit - 1], {"type": "context", "elements": [_mrkdwn("More in worktray's Home tab.")]}]
    return blocks


def home_view(cards: list[Card]) -> dict[str, Any]:
    """The App Home tab (``views.publish``): the tray's cards, within Slack's 100 blocks a view."""
    return {"type": "home", "blocks": tray_blocks(cards, MAX_VIEW_BLOCKS)}
