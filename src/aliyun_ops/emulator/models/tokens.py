"""ClientToken idempotency, one rule for every action that takes a token.

The same token with the same request answers what the first request made; the same token with other
parameters is ``IdempotentParameterMismatch``. A token is remembered only once its request succeeded.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from aliyun_ops.emulator import exceptions as exc

T = TypeVar("T")


class ClientTokens(Generic[T]):
    def __init__(self) -> None:
        self._made: dict[str, tuple[str, T]] = {}  # ClientToken -> (request fingerprint, what it made)

    def replay(self, token: str | None, fingerprint: str) -> T | None:
        """What an earlier request with this token made, or None for a new token (or no token)."""
        if token is None or token not in self._made:
            return None
        known, made = self._made[token]
        if known != fingerprint:
            raise exc.IdempotentParameterMismatch()
        return made

    def remember(self, token: str | None, fingerprint: str, made: T) -> None:
        if token is not None:
            self._made[token] = (fingerprint, made)
