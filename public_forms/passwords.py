"""The password policy, shared by registration, password change and reset."""

import re
import secrets
import string


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
