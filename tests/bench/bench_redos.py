"""Benchmark: the worst time of every regular expression that sees outside text, over crafted
inputs of 200,000 characters (tests/redos.py).

    .venv/bin/python -m tests.bench.bench_redos [--size 200000]
"""

from __future__ import annotations

import argparse
import time

from tests.redos import adversarial, patterns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=200_000)
    args = parser.parse_args()
    inputs = adversarial(args.size)
    print(f"worst time over {len(inputs)} crafted inputs of {args.size:,} characters")
    for name, pattern in patterns().items():
        worst, unit = 0.0, ""
        for key, text in inputs.items():
            start = time.perf_counter()
            for _ in pattern.finditer(text):
                pass
            elapsed = time.perf_counter() - start
            if elapsed > worst:
                worst, unit = elapsed, key
        print(f"  {name:34s} {worst * 1000:8.1f} ms  (runs of {unit!r})")


if __name__ == "__main__":
    main()
