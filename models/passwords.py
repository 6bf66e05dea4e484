"""Passwords: the policy (registration, change, reset, issued accounts) and the hashing of models/user.py."""

import re
import secrets
import string

from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from models.errors import FieldError

# zxcvbn's score: 3 means about 10^8 guesses, out of reach of an online attack and slow
# against a stolen hash; "Password1" or a phone number with a letter score 0-1.
MIN_STRENGTH = 3
MIN_LENGTH, MAX_LENGTH = 8, 64


def password_error(password):
    """Return the FieldError of a password that is too weak, or None."""
    if len(password or "") < MIN_LENGTH:
        return FieldError("password", "password_too_short", {"least": MIN_LENGTH})
    if len(password) > MAX_LENGTH:
        return FieldError("password", "password_too_long", {"most": MAX_LENGTH})
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        return FieldError("password", "password_letters_and_digits")
    return None


def new_password_error(password, context=()):
    """password_error, and refuse a password a person chose that is common or built from `context`
    (their account name, phone, unit name…), as a guesser would try first."""
    problem = password_error(password)
    if problem:
        return problem
    hints = [str(value) for value in context if value]
    if zxcvbn(password, user_inputs=hints)["score"] < MIN_STRENGTH:
        return FieldError("password", "password_guessable")
    return None


def account_context(user):
    """What a guesser knows of an account: its name, phone and unit."""
    enterprise = getattr(user, "enterprise", None)
    return [user.username, user.phone, user.display_name,
            *((enterprise.credit_code, enterprise.phone, enterprise.contact_name) if enterprise else ())]


def random_password(length=12):
    """An initial password that meets the policy, for accounts an admin issues."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if password_error(candidate) is None:
            return candidate


def hash_password(password, method=None):
    """The stored hash of a password (werkzeug's default method unless one is named)."""
    return generate_password_hash(password, method) if method else generate_password_hash(password)


def password_matches(password_hash, password):
    """Whether `password` is the one `password_hash` was made from."""
    return check_password_hash(password_hash, password)
