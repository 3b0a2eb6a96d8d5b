"""A circuit breaker: stop waiting on a dependency that keeps failing.

Closed: calls go through and consecutive failures are counted. After ``threshold`` of them the
circuit opens and callers take their fallback at once. After ``cooldown`` one call is let
through as a probe (half-open): success closes the circuit, failure opens it again.

Used for the model endpoints (agent/circuit_breaker.py) and the vector index
(knowledge_base/store.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

State = Literal["closed", "open", "half_open"]


@dataclass
class CircuitBreaker:
    threshold: int
    cooldown: timedelta
    clock: Callable[[], datetime]
    failures: int = 0
    opened_at: datetime | None = None
    probing: bool = False

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return "closed"
        if self.probing or self.clock() - self.opened_at >= self.cooldown:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """May this call go through? In half-open state only one probe at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self.probing:
            self.probing = True
            return True
        return False

    def record_success(self) -> None:
        self.failures, self.opened_at, self.probing = 0, None, False

    def record_failure(self) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.threshold:
            self.opened_at, self.probing = self.clock(), False
