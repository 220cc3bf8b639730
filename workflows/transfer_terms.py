"""The words of a case transfer (T1-T7 in DOMAIN.md, seed 004), shared by the transfer
journey (``workflows.transfer``) and the two-week radar (``workflows.radar``).

A transfer is a request of kind ``"transfer"``: ``team`` is the sending team and
``receiving_team`` the team the case moves to. What the worker gave is in
``request.details``:

* ``point_of_transfer``: a key of ``POINTS_OF_TRANSFER`` (T1);
* ``planned_date``: ISO date the case is planned to move;
* ``reason``: a short reason (typed text: never shown on channel cards);
* ``standards``: {key of ``STANDARDS``: {"status": "done" | "na" | "outstanding", "why": str}} (T4);
* ``gestation_weeks``: for a pre-birth transfer (T1: not before 20 weeks).

A transfer raised early is in state ``POTENTIAL`` (it shows on the radar) and becomes
``requested`` when marked ready. ``RADAR_STATES`` are the states in which a transfer is
still coming (the radar shows them).
"""

from __future__ import annotations

KIND = "transfer"

POTENTIAL = "potential"  # raised early: on the radar, not yet with the sending manager
ON_DUTY = "on_duty"  # T6: the receiving team cannot allocate at once; reviewed weekly
DISPUTED = "disputed"  # T5: with the group managers of both teams
ESCALATED = "escalated"  # T5: with the service manager, whose decision is final
ACCEPTED = "accepted"  # the receiving team accepted; the case moves at the point of transfer
TRANSFERRED = "transferred"  # T7 applied: the receiving team holds the case

# States in which a transfer is still to come (the radar's and the agenda's).
RADAR_STATES = (POTENTIAL, "requested", "returned", "approved", ON_DUTY, DISPUTED, ESCALATED, ACCEPTED)

# T1: the defined points at which a case moves between teams.
POINTS_OF_TRANSFER: dict[str, str] = {
    "court_hearing": "First court hearing (EPO/ICO)",
    "lac_review": "First LAC review (s20, not home within 20 days)",
    "icpc": "Initial child protection conference (ICPC)",
    "pre_birth": "Pre-birth conference (not before 20 weeks' gestation)",
    "cin_meeting": "First CIN meeting with outline CIN plan",
    "step_up": "Step-up from Early Help",
    "age_11y6m": "Age 11 years 6 months (Under 12s to 12+)",
}
PRE_BIRTH_MIN_WEEKS = 20  # T1

# T4: the transfer standards, each done, not applicable (with why) or outstanding.
STANDARDS: dict[str, str] = {
    "checklist_summary": "Transfer checklist and transfer summary completed",
    "chronology": "Chronology",
    "genogram": "Genogram",
    "fgc_referral": "Family Group Conference referral",
    "health_pep": "Children in care: initial health assessment and PEP meeting by the first LAC review",
    "introductions": "Introductions to the new worker by the point of transfer",
    "file_up_to_date": "Case file up to date",
    "last_seen": "Clear evidence when the child was last seen",
    "key_dates": "Key dates of scheduled meetings",
}
STANDARD_STATUSES = ("done", "na", "outstanding")
