#!/usr/bin/env python3
# run-bench-pool-python.py: libmp's Python Mp.Pool (the PyGObject override)
# against CPython's multiprocessing.Pool, in one run
#
#   run-bench-pool-python.py --libmp-script tests/bench/bench_pool_python.py \
#       --cpython-script tests/bench/bench_pool_cpython.py [--rounds 5] [--quick]
#
# Both sides are Python programs run by the same interpreter (--python,
# /usr/bin/python3) with the same measurement code (bench_pool_python.py
# imports bench_pool_cpython.py's): pools of --workers (2) workers made
# anew for every run and warmed up before the clock, the task a plain
# module-level square(x) = x * x, every value checked. Five measurements:
#
#   map          Pool.map over --map-items (1,000,000) ints, default chunksize
#   map_small    the same over --map-small-items (100,000) ints
#   imap         Pool.imap with chunksize 1 over --imap-items (100,000) ints
#   apply_async  --async-tasks (10,000) apply_async calls, then get() on each
#   apply        --apply-calls (2,000) blocking apply calls, each timed
#
# The machine is shared and noisy, so the sides take turns: each round runs
# both programs once (each measurement once, in an order that rotates from
# round to round; which side goes first alternates), and the figures are
# medians over the rounds (over every call, for apply). The ratio is
# CPython's time over libmp's (above 1: libmp is faster), from the medians
# and per round (the median of the rounds' ratios). The load average is
# printed before and after: read the figures with it.
#
# Nothing is asserted about speed: only a program that fails (wrong values
# included) fails the run.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ALL = ["map", "map_small", "imap", "apply_async", "apply"]
TITLES = {
    "map": "map of square over ints, default chunksize",
    "map_small": "map of square over ints, default chunksize",
    "imap": "imap of square with chunksize 1, consumed to the end",
    "apply_async": "apply_async calls, then get() on each",
    "apply": "blocking apply calls one after the other",
}


def run_json(cmd):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"run-bench-pool-python: {' '.join(cmd)} exited with {proc.returncode}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        sys.exit(f"run-bench-pool-python: {' '.join(cmd)} printed no JSON ({e}):\n{proc.stdout}")


def main():
    parser = argparse.ArgumentParser(description="libmp's Python Mp.Pool against CPython's multiprocessing.Pool")
    parser.add_argument("--libmp-script", required=True, help="bench_pool_python.py")
    parser.add_argument("--cpython-script", required=True, help="bench_pool_cpython.py")
    parser.add_argument("--python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3")
                        else sys.executable, help="the Python with PyGObject, for both sides")
    parser.add_argument("--what", default=",".join(ALL), help=", ".join(ALL) + ", comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--map-items", type=int, default=1000000)
    parser.add_argument("--map-small-items", type=int, default=100000)
    parser.add_argument("--imap-items", type=int, default=100000)
    parser.add_argument("--async-tasks", type=int, default=10000)
    parser.add_argument("--apply-calls", type=int, default=2000)
    parser.add_argument("--start-method", default="default",
                        help="for both sides; 'default' is each library's own default")
    parser.add_argument("--quick", action="store_true",
                        help="one round of a few items: checks that it runs, measures nothing")
    parser.add_argument("--json-out", help="also write every sample to this file")
    args = parser.parse_args()

    if args.quick:
        args.rounds = 1
        args.map_items, args.map_small_items, args.imap_items = 20000, 2000, 2000
        args.async_tasks, args.apply_calls = 1000, 200
    wanted = [w.strip() for w in args.what.split(",") if w.strip()]
    for w in wanted:
        if w not in ALL:
            sys.exit(f"run-bench-pool-python: unknown measurement {w!r}")
    rounds = max(1, args.rounds)
    common = ["--json", "--repeat", "1", "--start-method", args.start_method, "--workers", str(args.workers),
              "--map-items", str(args.map_items), "--map-small-items", str(args.map_small_items),
              "--imap-items", str(args.imap_items), "--async-tasks", str(args.async_tasks),
              "--apply-calls", str(args.apply_calls)]

    samples = {}        # (side, name) -> [seconds of each run]
    calls = {}          # (side, "apply") -> [seconds of each call]
    per_round = {}      # (side, name) -> [the round's figure: run seconds, or median call seconds]
    info = {}
    t_start = time.monotonic()
    load_start = os.getloadavg()
    for r in range(rounds):
        order = wanted[r % len(wanted):] + wanted[:r % len(wanted)]
        jobs = [("libmp", args.libmp_script), ("cpython", args.cpython_script)]
        if r % 2:
            jobs.reverse()
        for side, script in jobs:
            data = run_json([args.python, script, "--what", ",".join(order)] + common)
            for name, res in data["results"].items():
                samples.setdefault((side, name), []).extend(res["samples"])
                info[(side, name)] = res
                if res.get("call_seconds"):
                    calls.setdefault((side, name), []).extend(res["call_seconds"])
                    per_round.setdefault((side, name), []).append(statistics.median(res["call_seconds"]))
                else:
                    per_round.setdefault((side, name), []).append(statistics.median(res["samples"]))
        print(f"round {r + 1}/{rounds} done ({time.monotonic() - t_start:.1f} s)", file=sys.stderr)
    load_end = os.getloadavg()

    print()
    print(f"Python pools, {args.workers} workers warmed up before the clock, task square(x) = x * x: libmp's "
          f"Mp.Pool (PyGObject override) against CPython's multiprocessing.Pool, both on {args.python}, "
          f"{rounds} interleaved round(s), {platform.node()}, {os.cpu_count()} CPU(s)")
    print(f"load average (1, 5, 15 min) {', '.join(f'{x:.2f}' for x in load_start)} before, "
          f"{', '.join(f'{x:.2f}' for x in load_end)} after")
    if args.quick:
        print("QUICK MODE: a few items to check that everything runs; the figures mean nothing.")
    print()
    header = (f"  {'what':<12} {'items':>8} {'libmp median':>14} {'CPython median':>15} {'ratio':>7}  "
              f"per round (CPython / libmp)")
    print(header)
    print("  " + "-" * (len(header) - 2))
    summary = {}
    for name in wanted:
        lib, cpy = info.get(("libmp", name)), info.get(("cpython", name))
        if lib is None or cpy is None:
            continue
        n = lib["items"]
        if name == "apply":
            lib_t, cpy_t = statistics.median(calls[("libmp", name)]), statistics.median(calls[("cpython", name)])
            figure = lambda t: f"{t * 1e6:.1f} us/call"  # noqa: E731
        elif name == "apply_async":
            lib_t, cpy_t = statistics.median(samples[("libmp", name)]), statistics.median(samples[("cpython", name)])
            figure = lambda t: f"{t / n * 1e6:.2f} us/task"  # noqa: E731
        else:
            lib_t, cpy_t = statistics.median(samples[("libmp", name)]), statistics.median(samples[("cpython", name)])
            figure = lambda t: f"{t:.3f} s"  # noqa: E731
        ratios = [c / l for c, l in zip(per_round[("cpython", name)], per_round[("libmp", name)]) if l > 0]
        print(f"  {name:<12} {n:>8} {figure(lib_t):>14} {figure(cpy_t):>15} {cpy_t / lib_t:>6.2f}x  "
              f"{statistics.median(ratios):.2f}x ({', '.join(f'{x:.2f}' for x in ratios)})")
        summary[name] = {"items": n, "libmp_s": lib_t, "cpython_s": cpy_t, "ratio": cpy_t / lib_t,
                         "round_ratios": ratios}
    print()
    print("  " + "; ".join(f"{name}: {TITLES[name]}" for name in wanted))
    print("  map, map_small: run time; imap: run time; apply_async: run time / calls; apply: the median call.")
    print("  ratio: CPython's median over libmp's (above 1: libmp is faster); per round: the same ratio in")
    print("  each round (for apply, of the round's median calls).")
    print()
    print("Spread of the run times (min .. max), to judge the noise:")
    for (side, name), s in sorted(samples.items()):
        print(f"  {name:<12} {side:<8} {min(s):9.4f} .. {max(s):9.4f} s   ({len(s)} runs)")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"summary": summary, "load_start": load_start, "load_end": load_end,
                       "samples": {f"{side}/{name}": s for (side, name), s in samples.items()},
                       "calls": {f"{side}/{name}": s for (side, name), s in calls.items()}}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
