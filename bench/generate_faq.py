"""Write N synthetic FAQ rows (JSON) for import benchmarks.

python bench/generate_faq.py 10000 out.json
"""

from __future__ import annotations

import json
import random
import sys

SERVICES = [
    "facial",
    "acne treatment",
    "laser hair removal",
    "chemical peel",
    "botox",
    "membership",
]
CITIES = ["Kuala Lumpur", "Ho Chi Minh City", "Bangkok", "Penang", "Hanoi", "Chiang Mai"]
ASPECTS = ["price", "duration", "aftercare", "booking", "refund policy", "side effects"]


def rows(n: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        service, city, aspect = rng.choice(SERVICES), rng.choice(CITIES), rng.choice(ASPECTS)
        out.append(
            {
                "question": f"What is the {aspect} of {service} at the {city} branch? (#{i})",
                "answer": f"For {service} in {city}, the {aspect} is described in sheet {i}: "
                f"{rng.randint(30, 120)} minutes, from {rng.randint(100, 900)} RM.",
                "language": "en",
                "tags": [aspect.replace(" ", "-"), f"city:{city.lower().replace(' ', '-')}"],
            }
        )
    return out


if __name__ == "__main__":
    count, target = int(sys.argv[1]), sys.argv[2]
    with open(target, "w", encoding="utf-8") as f:
        json.dump(rows(count), f, ensure_ascii=False)
