"""Helpers for measuring through the Flask test client."""

from models.demo import DEMO_PASSWORD


def logged_in_client(app, username, role=None):
    """A test client logged in as `username` (every benchmark account has the demo password)."""
    client = app.test_client()
    role = role or ("center" if username == "center" else "enterprise")
    response = client.post(f"/login/{role}", data={"username": username, "password": DEMO_PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"bench login as {username} failed: {response.status_code}")
    return client
