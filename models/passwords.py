"""Passwords: the policy (registration, change, reset, issued accounts) and the hashing of models/user.py."""

import re
import secrets
import string

from werkzeug.security import check_password_hash, generate_password_hash


def password_error(password):
    """Return a Chinese message when a password is too weak, or None."""
    if len(password or "") < 8:
        return "密码至少8位"
    if len(password) > 64:
        return "密码最多64位"
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        return "密码须同时包含字母和数字"
    return None


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
