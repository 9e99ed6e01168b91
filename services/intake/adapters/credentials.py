"""Passwords, tokens and API keys. Passwords are hashed with Argon2id (argon2-cffi); tokens and
API keys are random (secrets) and stored only as SHA-256 digests: they carry enough entropy
that a slow hash adds nothing, and lookup by digest stays an index hit."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
API_KEY_PREFIX = "atk_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        _hasher.hash(password)  # same cost whether or not the user has a password: no timing hint
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problems(password: str, email: str) -> list[tuple[str, str]]:
    """Why a new password is refused, as (es, en) texts; empty when it is acceptable."""
    out = []
    if len(password) < MIN_PASSWORD_LENGTH:
        out.append((f"Debe tener al menos {MIN_PASSWORD_LENGTH} caracteres.",
                    f"Must be at least {MIN_PASSWORD_LENGTH} characters long."))
    if email and email.split("@")[0].lower() in password.lower():
        out.append(("No debe contener su nombre de usuario.", "Must not contain your user name."))
    return out


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
