"""One circuit breaker per model endpoint: stop calling a provider that keeps failing.

After ``threshold`` consecutive failed turns the endpoint's circuit opens and turns go straight
to the offline planner; after ``cooldown`` one turn probes it (core/circuit_breaker.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agent_service.core.circuit_breaker import CircuitBreaker


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
