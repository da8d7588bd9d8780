"""`make bench`: every benchmark in tests/bench/, one JSON object a line on stdout."""

from __future__ import annotations

import sys

from tests.bench import (
    bench_camera,
    bench_centre,
    bench_centre_formats,
    bench_codes,
    bench_fleet,
    bench_kiosk,
    bench_matching,
    bench_plates,
    bench_proxy,
    bench_risk_profiles,
    bench_rollout,
    bench_soak,
    bench_sync,
    bench_tlog,
    bench_tuf,
)

BENCHMARKS = [
    bench_matching,
    bench_sync,
    bench_kiosk,
    bench_plates,
    bench_soak,
    bench_codes,
    bench_camera,
    bench_proxy,
    bench_centre,
    bench_centre_formats,
    bench_fleet,
    bench_rollout,
    bench_tuf,
    bench_tlog,
    bench_risk_profiles,
]


def main() -> int:
    for bench in BENCHMARKS:
        status = bench.main([])
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
