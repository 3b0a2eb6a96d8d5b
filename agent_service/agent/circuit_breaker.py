"""A circuit breaker per model endpoint: stop calling a provider that keeps failing.

Closed: calls go through and consecutive failures are counted. After ``threshold`` of them the
circuit opens and turns go straight to the offline planner. After ``cooldown`` one turn is let
through as a probe (half-open): success closes the circuit, failure opens it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
        """May this turn call the model? In half-open state only one probe at a time."""
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


@dataclass
class CircuitBreakers:
    """One breaker per model endpoint (base URL and model name) in this process."""

    threshold: int
    cooldown: timedelta
    clock: Callable[[], datetime]
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    def for_endpoint(self, endpoint: str) -> CircuitBreaker:
        if endpoint not in self.breakers:
            self.breakers[endpoint] = CircuitBreaker(self.threshold, self.cooldown, self.clock)
        return self.breakers[endpoint]
