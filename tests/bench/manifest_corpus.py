"""A large corpus of valid e-manifest lines, written fast (string templates, no model), for the
benchmarks. Plates are of several corridor formats, some written in Cyrillic."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

LATIN = "ABCEHKMPTX"
CYRILLIC = "АВСЕНКМРТХ"
DIGITS = "0123456789"


def random_plate(rng: random.Random) -> str:
    kind = rng.randrange(4)
    d = lambda n: "".join(rng.choices(DIGITS, k=n))  # noqa: E731
    if kind == 0:  # KZ 777 ABC 02
        return f"{d(3)} {''.join(rng.choices(LATIN, k=3))} {d(2)}"
    if kind == 1:  # Russian style, Cyrillic: А 777 ВС 02
        return f"{rng.choice(CYRILLIC)} {d(3)} {''.join(rng.choices(CYRILLIC, k=2))} {d(2)}"
    if kind == 2:  # UZ 01 A 123 BC
        return f"{d(2)} {rng.choice(LATIN)} {d(3)} {''.join(rng.choices(LATIN, k=2))}"
    return f"{d(2)} {d(4)} {''.join(rng.choices(LATIN, k=2))}"  # KZ trailer style


def write_corpus(path: Path, count: int, seed: int = 7) -> list[str]:
    """Write `count` records; return their tractor plates in order."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    plates = []
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            plate = random_plate(rng)
            plates.append(plate)
            arrival = start + dt.timedelta(seconds=rng.randrange(30 * 86400))
            record = {
                "ref": f"26KZ{i:014d}",
                "issuer": "KZ-CIS",
                "procedure": "transit",
                "office_border": "KZ051900",
                "expected_arrival": arrival.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "transport": {"plate": plate, "nationality": "KZ"},
                "trailers": [{"plate": random_plate(rng), "nationality": "KZ"}],
                "driver": {"name": "IVANOV IVAN", "document_number": f"N{i:08d}"},
                "seals": [{"id": f"KZC{i:07d}", "type": "mechanical", "party": "CU"}],
                "goods": [
                    {"seq": 1, "description": "Tractor parts", "hs_code": "870899",
                     "packages": 24, "gross_mass_kg": 11850.5},
                ],
            }  # fmt: skip
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return plates
