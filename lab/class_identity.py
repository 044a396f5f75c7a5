"""A student's link token: who a tab is, kept in its address (``?student=...``) so a reload stays the same student.

The token is 32 random bytes from ``secrets`` (256 bits: it cannot be guessed), never derived from the
teacher's key and never equal to it. The store keeps only its SHA-256, so the class file holds no usable
token. A token grants a display name and the runs started under it, nothing of the teacher's.
"""

from __future__ import annotations

import hashlib
import re
import secrets

QUERY_KEY = "student"
TOKEN_BYTES = 32
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32): 43 characters of base64url


def new_token(teacher_key: str | None = None) -> str:
    """A fresh token (never the teacher's key, however unlikely that would be)."""
    while True:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        if token != teacher_key:
            return token


def looks_like_token(text: object) -> bool:
    """Whether ``text`` has a token's shape (anything else from a URL is not even looked up)."""
    return isinstance(text, str) and _TOKEN.fullmatch(text) is not None


def token_hash(token: str) -> str:
    """What the store keeps of a token."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()
