"""The domain's refusals as codes: an operation's error (DomainError) and one field's (FieldError).

A refusal carries a `code` naming why and `params` with its details; the UI layer words it
from one table (admin_views/labels.py ERROR_MESSAGES, `error_text`). The models never hold
the user's words. That table installs itself here (`use_wording`) when it is imported, so
`str()` of a refusal - in a log line, a click exception, a test's `match=` - reads as the
user reads it; before that (a bare script importing models only) it is the code and params.
"""

from dataclasses import dataclass, field


def _code_and_params(refusal):
    return refusal.code if not refusal.params else f"{refusal.code}: {refusal.params}"


_wording = _code_and_params


def use_wording(word):
    """Word every refusal's str() with `word(refusal)` (called once by the UI table)."""
    global _wording
    _wording = word


class DomainError(Exception):
    """An operation that cannot be done as asked: `code` names the refusal, `params` its details."""

    def __init__(self, code, /, **params):
        super().__init__(code)
        self.code, self.params = code, params

    def __str__(self):
        return _wording(self)


@dataclass(frozen=True)
class FieldError:
    """What is wrong with one field's value: the field, the refusal's code and its details."""

    field: str
    code: str
    params: dict = field(default_factory=dict)

    def __str__(self):
        return _wording(self)


def plain_text(refusal):
    """The code and params of a refusal no table words (the fallback of the UI's wording)."""
    return _code_and_params(refusal)
