"""C10: what else a closure ends, chosen item by item; nothing is ended unasked.

The closure audit lists every record item open on the record of each person the
request applies to. Business support choose what this closure ends:

- a non-LAC legal status or a class ends as of the closure date;
- a registration ends with the end reason they give (the record needs one) [001];
- a looked-after period ends with a local end reason and a DoH end reason, the
  SSDA903 REC code (S3) [001];
- a care package is not ended here: it raises an End Purchased Service request
  that the team manager authorises (``workflows.purchasing``) [001];
- the placement address ends only when the young person is leaving care, and
  then the home address is made primary first [001]. The audit asks, per person
  with an open placement address. A home address is never ended by a closure.

Everything not chosen stays open and is recorded as kept. This module knows the
rules only; ``workflows.closure.complete`` calls it inside its transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from store.models import RecordItem
from workflows.errors import FieldErrors

# S3: SSDA903 "reason episode ceased" (REC), the DoH end reason of a looked-after period.
REC_CODES: dict[str, str] = {
    "X1": "New episode begins on the same day",
    "E11": "Adopted: application unopposed",
    "E12": "Adopted: consent dispensed with by the court",
    "E2": "Died",
    "E3": "Care taken over by another local authority",
    "E4A": "Returned home as part of care planning",
    "E4B": "Returned home, not as part of care planning",
    "E13": "Left care: parent(s)/relative(s) without parental responsibility",
    "E41": "Residence / child arrangements order",
    "E45": "Special guardianship order: former foster carer, relative or friend",
    "E46": "Special guardianship order: former foster carer, not relative or friend",
    "E47": "Special guardianship order: other carer, relative or friend",
    "E48": "Special guardianship order: other carer, not relative or friend",
    "E5": "Independent living with formal support",
    "E6": "Independent living without formal support",
    "E7": "Residential care funded by adult social care",
    "E9": "Sentenced to custody",
    "E14": "Accommodation on remand ended",
    "E15": "Age assessed as 18 or over",
    "E16": "Moved abroad",
    "E17": "Aged 18 or over and remained with current carers",
    "E8": "Any other reason",
}

# What business support may tick to end; addresses are handled by the leaving-care question.
CHOOSABLE = ("care_package", "legal_status", "looked_after", "registration", "class")
ADDRESSES = ("home_address", "placement_address")
DEFAULT_END_REASON = "Case closed"
LEFT_CARE = "Left care"


def end_items_key() -> str:
    return "end_items"


def end_reason_key(item_id: int) -> str:
    return f"end_reason_{item_id}"


def local_end_reason_key(item_id: int) -> str:
    return f"local_end_reason_{item_id}"


def rec_key(item_id: int) -> str:
    return f"rec_{item_id}"


def leaving_care_key(person_id: str) -> str:
    return f"leaving_care_{person_id}"


@dataclass(frozen=True)
class RecordChoices:
    """What business support chose on the audit form (C10). The default ends nothing."""

    end: frozenset[int] = frozenset()  # record item IDs ticked to end
    end_reasons: Mapping[int, str] = field(default_factory=dict)  # registrations (others may give one)
    local_end_reasons: Mapping[int, str] = field(default_factory=dict)  # looked-after periods
    rec_codes: Mapping[int, str] = field(default_factory=dict)  # looked-after periods: SSDA903 REC (S3)
    leaving_care: Mapping[str, bool] = field(default_factory=dict)  # person ID -> leaving care?


@dataclass
class Ending:
    item: RecordItem
    reason: str
    doh_reason: str | None = None


@dataclass
class RecordDecision:
    """What the closure will do to each open record item; built only from valid choices."""

    endings: list[Ending] = field(default_factory=list)
    make_primary: list[RecordItem] = field(default_factory=list)  # home addresses, before the placement ends
    end_purchases: dict[str, list[RecordItem]] = field(default_factory=dict)  # person -> care packages
    kept: list[RecordItem] = field(default_factory=list)

    @property
    def ended_ids(self) -> list[int]:
        return [e.item.id for e in self.endings]

    def event_detail(self) -> dict[str, object]:
        """IDs and kinds only: the event log never carries addresses or descriptions."""
        return {
            "ended_record_items": self.ended_ids,
            "doh_end_reasons": {str(e.item.id): e.doh_reason for e in self.endings if e.doh_reason},
            "made_primary": [i.id for i in self.make_primary],
            "end_purchase_items": [i.id for items in self.end_purchases.values() for i in items],
            "kept_record_items": [{"id": i.id, "person_id": i.person_id, "kind": i.kind} for i in self.kept],
        }


def _text(value: str | None) -> str:
    return (value or "").strip()


def decide(items: Sequence[RecordItem], choices: RecordChoices, *, purchasing_channel: str | None) -> RecordDecision:
    """Check the choices against what is open; raise FieldErrors naming each bad field.

    Nothing is decided for an item that was not chosen: it is kept.
    """
    errors: dict[str, str] = {}
    by_id = {i.id: i for i in items}
    not_choosable = sorted(i for i in choices.end if i not in by_id or by_id[i].kind not in CHOOSABLE)
    if not_choosable:
        errors[end_items_key()] = f"Not an open item this closure can end: {', '.join(f'#{i}' for i in not_choosable)}."
    decision = RecordDecision()
    for item in items:
        if item.kind in ADDRESSES:
            continue
        if item.id not in choices.end:
            decision.kept.append(item)
        elif item.kind == "care_package":
            if purchasing_channel is None:
                errors[end_items_key()] = (
                    "No purchasing channel is configured for this team (purchasing_channel in the organisation config): "
                    "care packages cannot be ended yet."
                )
            decision.end_purchases.setdefault(item.person_id, []).append(item)
        elif item.kind == "looked_after":
            _end_looked_after(item, choices, decision, errors)
        elif item.kind == "registration":
            reason = _text(choices.end_reasons.get(item.id))
            if not reason:
                errors[end_reason_key(item.id)] = "Give the registration's end reason."
            decision.endings.append(Ending(item, reason))
        else:
            decision.endings.append(Ending(item, _text(choices.end_reasons.get(item.id)) or DEFAULT_END_REASON))
    _decide_addresses(items, choices, decision, errors)
    if errors:
        raise FieldErrors(errors)
    return decision


def _end_looked_after(item: RecordItem, choices: RecordChoices, decision: RecordDecision, errors: dict[str, str]) -> None:
    """S3: a looked-after period ends with a local end reason and a DoH one (the REC code)."""
    local = _text(choices.local_end_reasons.get(item.id))
    code = _text(choices.rec_codes.get(item.id)).upper()
    if not local:
        errors[local_end_reason_key(item.id)] = "Give the local end reason of the looked-after period."
    if code not in REC_CODES:
        what = f"'{code}' is not an SSDA903 REC code" if code else "Choose the DoH end reason (SSDA903 REC code)"
        errors[rec_key(item.id)] = f"{what} (S3)."
    decision.endings.append(Ending(item, local, code))


def _decide_addresses(items: Sequence[RecordItem], choices: RecordChoices, decision: RecordDecision, errors: dict[str, str]) -> None:
    """C10: the placement address ends only when the young person leaves care, and the
    home address is made primary first. Home addresses are never ended by a closure."""
    for person_id in _people(i for i in items if i.kind == "placement_address"):
        placements = [i for i in items if i.person_id == person_id and i.kind == "placement_address"]
        homes = [i for i in items if i.person_id == person_id and i.kind == "home_address"]
        leaving = choices.leaving_care.get(person_id)
        if leaving is None:
            errors[leaving_care_key(person_id)] = f"Say whether {person_id} is leaving care: only then does the placement address end (C10)."
        elif leaving and not homes:
            errors[leaving_care_key(person_id)] = (
                f"{person_id} has no open home address to make primary: record it on the case system first (C10)."
            )
        elif leaving:
            home = next((h for h in homes if h.is_primary), homes[-1])
            if not home.is_primary:
                decision.make_primary.append(home)
            decision.endings += [Ending(p, LEFT_CARE) for p in placements]
        else:
            decision.kept += placements
    decision.kept += [i for i in items if i.kind == "home_address"]


def _people(items: Iterable[RecordItem]) -> list[str]:
    return list(dict.fromkeys(i.person_id for i in items))


def apply(decision: RecordDecision, when: dt.date) -> None:
    """Make the chosen changes (inside the closure's transaction): the home address
    becomes primary first, then the chosen items end as of the closure date."""
    for home in decision.make_primary:
        home.is_primary = True
    for ending in decision.endings:
        item = ending.item
        item.to_date = when
        item.end_reason = ending.reason
        item.doh_end_reason = ending.doh_reason
        if item.kind in ADDRESSES:
            item.is_primary = False
