"""The statuses of a person record and their order in the funnel (their words: admin_views/labels.py)."""

REGISTERED = "registered"
SUBMITTED = "submitted"
DEPT_APPROVED = "dept_approved"
CENTER_APPROVED = "center_approved"
ALLOCATED = "allocated"
APPOINTED = "appointed"
CHECKED_IN = "checked_in"
VACCINATED = "vaccinated"
NOT_VACCINATED = "not_vaccinated"
# A dose was given and the course has more: waiting for the next dose's window (or a booster).
DUE_NEXT = "due_next"

ALL_STATUSES = (
    REGISTERED, SUBMITTED, DEPT_APPROVED, CENTER_APPROVED, ALLOCATED,
    APPOINTED, CHECKED_IN, VACCINATED, NOT_VACCINATED, DUE_NEXT,
)

# Position in the funnel. A not-vaccinated person went as far as a vaccinated one, and
# so did one waiting for the next dose (they have had at least one).
RANK = {status: index for index, status in enumerate(ALL_STATUSES[:-2])}
RANK[NOT_VACCINATED] = RANK[DUE_NEXT] = RANK[VACCINATED]

# Where each status is stamped on the person: <stage>_at and <stage>_by_id.
STAGE_STAMP = {
    SUBMITTED: "submitted",
    DEPT_APPROVED: "dept_approved",
    CENTER_APPROVED: "center_approved",
    ALLOCATED: "allocated",
    APPOINTED: "appointed",
    CHECKED_IN: "checked_in",
    VACCINATED: "finished",
    NOT_VACCINATED: "finished",
    DUE_NEXT: "finished",
}


def reached(status):
    """Return the statuses of people who have reached `status` in the funnel."""
    if status == VACCINATED:
        return (VACCINATED,)
    return tuple(s for s in ALL_STATUSES if RANK[s] >= RANK[status])
