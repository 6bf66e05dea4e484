"""One check for every `next`/return address a request brings: a path on this site, or nothing.

Browsers and Werkzeug drop tabs, newlines and other control characters and read a backslash
as a slash, so " /\\evil.example" or "/\t/evil.example" would leave the site although it
starts with "/". Only printable ASCII without whitespace or backslashes, starting with
one "/", with no scheme and no host, is taken.
"""

from urllib.parse import urlsplit


def local_path(target, prefix="/"):
    """`target` when it is a path on this site under `prefix`, else None."""
    if not isinstance(target, str) or not target.startswith(prefix) or target.startswith("//"):
        return None
    if not all("!" <= char <= "~" for char in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def safe_next(target, default, prefix="/"):
    """Where to go next: `target` when local_path takes it, else `default`."""
    return local_path(target, prefix) or default
