#!/usr/bin/env python3
# run-bench-sync.py: libmp's locks, events, conditions and shared values
# against CPython's multiprocessing, in one run
#
#   run-bench-sync.py --bench BUILD/tests/bench/bench-sync \
#                     --cpython-script tests/bench/bench_sync_cpython.py [--quick]
#
# Four measurements, each the same workload on both sides (see bench-sync.c
# and bench_sync_cpython.py for the details):
#
#   lock        uncontended Lock acquire/release pairs in one process: pairs/s
#   event       a two-process ping-pong through two Events: round trips/s
#   condition2  a two-process ping-pong through Conditions (two on one lock,
#               with a turn in a lock-free Value): round trips/s. The
#               one-Condition ping-pong ("condition", --what condition)
#               deadlocks with libmp as of this writing: a waiter that
#               begins waiting after a notify can take that notification
#               from the waiter it was meant for (src/mp-condition.c).
#   value       two processes each increment one Value under its lock:
#               total increments/s
#
# and, for the analysis (skip them with --no-analysis), measured by the C
# program in the same rounds: raw_lock (a bare compare-and-swap/exchange
# pair on a shared word: the floor of any lock made of an atomic word),
# rlock (an uncontended MpRLock pair: the lock the value's increments take),
# raw_futex and raw_eventfd (a ping-pong through a bare futex or two bare
# eventfds between two forked processes: what one sleep and wake-up per hop
# costs), raw_value (two forked processes incrementing an int under a bare
# spin lock: the floor of value), value_1p (the increments in one process
# alone: what the calls cost without contention); and by the CPython
# script: rlock, value_1p and lock_with (`with lock: pass`, much slower in
# CPython than the bound acquire/release the lock ratio is measured with).
#
# The machine is shared and noisy, so the sides take turns: each round runs
# the C program once and the CPython script once (each doing --repeat runs
# of every measurement), the side that goes first alternating. A round's
# figure is the median of its runs; the ratio is the median over the rounds
# of the rounds' ratios, which a noisy round cannot drag far.
#
# The targets are printed with PASS or MISS; a miss never fails the run.
# Only a program that fails (wrong counts included) or prints garbage does.
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

# From the issue: libmp at least this many times CPython's rate, on each.
TARGET_RATIO = 5.0
MEASURES = ["lock", "event", "condition2", "condition", "value"]
LABELS = {
    "lock": ("lock pairs", "uncontended acquire/release pairs in one process"),
    "event": ("event round trips", "two processes, ping-pong through two Events"),
    "condition2": ("condition round trips", "two processes, ping-pong through two Conditions on one lock"),
    "condition": ("condition round trips (one Condition)", "two processes, ping-pong through one Condition"),
    "value": ("value increments", "two processes, `with v.get_lock(): v.value += 1`, total"),
}
# The measurements for the analysis, (side, name, what it is), run in the
# same rounds unless --no-analysis.
FLOORS = {
    "lock": [("libmp", "raw_lock", "bare CAS/exchange pair on a shared word (floor)"),
             ("libmp", "rlock", "libmp MpRLock pair (analysis)"),
             ("cpython", "rlock", "CPython RLock pair (analysis)"),
             ("cpython", "lock_with", "CPython `with lock: pass` (analysis)")],
    "event": [("libmp", "raw_futex", "bare futex ping-pong, sleeping (analysis)"),
              ("libmp", "raw_eventfd", "bare eventfd ping-pong, sleeping (analysis)")],
    "condition2": [("libmp", "raw_futex", "bare futex ping-pong, sleeping (analysis)")],
    "condition": [("libmp", "raw_futex", "bare futex ping-pong, sleeping (analysis)")],
    "value": [("libmp", "raw_value", "bare spin lock + int, 2 processes (floor)"),
              ("libmp", "value_1p", "libmp, 1 process alone (analysis)"),
              ("cpython", "value_1p", "CPython, 1 process alone (analysis)"),
              ("libmp", "rlock", "libmp MpRLock pair, uncontended (analysis)")],
}


def run_json(cmd, env):
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, env=env, text=True)
    if proc.returncode != 0:
        sys.exit(f"run-bench-sync: {' '.join(cmd)} exited with {proc.returncode}")
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        sys.exit(f"run-bench-sync: {' '.join(cmd)} printed no JSON ({e}):\n{proc.stdout}")
    data["wall_s"] = time.monotonic() - t0
    return data


def fmt(x, width=8, prec=2):
    return f"{x:>{width}.{prec}f}" if x is not None else f"{'-':>{width}}"


def main():
    parser = argparse.ArgumentParser(description="libmp's Lock, Event, Condition and Value against CPython's")
    parser.add_argument("--bench", required=True, help="the bench-sync program")
    parser.add_argument("--cpython-script", required=True, help="bench_sync_cpython.py")
    parser.add_argument("--python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3")
                        else sys.executable, help="the CPython to compare with")
    parser.add_argument("--what", default="lock,event,condition,condition2,value",
                        help="lock, event, condition2, condition, value, comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement per program and round")
    parser.add_argument("--lock-pairs", type=int, default=2000000)
    parser.add_argument("--round-trips", type=int, default=20000)
    parser.add_argument("--increments", type=int, default=100000, help="per process")
    parser.add_argument("--start-method", default="default",
                        help="for both sides; 'default' is each library's own default")
    parser.add_argument("--taskset", metavar="CPUS",
                        help="run both sides under taskset -c CPUS (their children inherit it)")
    parser.add_argument("--no-analysis", action="store_true", help="skip the floors (raw_*, rlock)")
    parser.add_argument("--quick", action="store_true",
                        help="one round of a few iterations: checks that it runs, measures nothing")
    parser.add_argument("--json-out", help="also write every sample to this file")
    args = parser.parse_args()

    if args.quick:
        args.rounds, args.repeat = 1, 1
        args.lock_pairs, args.round_trips, args.increments = 20000, 200, 2000
    wanted = [w.strip() for w in args.what.split(",") if w.strip()]
    for w in wanted:
        if w not in MEASURES:
            sys.exit(f"run-bench-sync: unknown measurement {w!r} ({', '.join(MEASURES)})")
    floors, py_floors = [], []
    if not args.no_analysis:
        for w in wanted:
            floors += [f for side, f, _ in FLOORS[w] if side == "libmp" and f not in floors]
            py_floors += [f for side, f, _ in FLOORS[w] if side == "cpython" and f not in py_floors]
    rounds = max(1, args.rounds)
    env = dict(os.environ)
    sizes = ["--lock-pairs", str(args.lock_pairs), "--round-trips", str(args.round_trips),
             "--increments", str(args.increments), "--repeat", str(max(1, args.repeat)),
             "--start-method", args.start_method, "--json"]
    pin = ["taskset", "-c", args.taskset] if args.taskset else []

    samples = {}        # (side, name) -> [seconds of every run]
    round_medians = {}  # (side, name) -> [median seconds of each round]
    info = {}
    python_version = None

    def collect(side, data):
        for name, r in data["results"].items():
            key = (side, name)
            samples.setdefault(key, []).extend(r["samples"])
            round_medians.setdefault(key, []).append(statistics.median(r["samples"]))
            info[key] = r

    c_what = wanted + floors
    py_what = wanted + py_floors
    t_start = time.monotonic()
    load_start = os.getloadavg()[0]
    for r in range(rounds):
        k = r % len(c_what)
        k_py = r % len(py_what)
        jobs = [("libmp", [args.bench, "--what", ",".join(c_what[k:] + c_what[:k])] + sizes),
                ("cpython", [args.python, args.cpython_script, "--what",
                             ",".join(py_what[k_py:] + py_what[:k_py])] + sizes)]
        if r % 2:
            jobs.reverse()
        for side, cmd in jobs:
            data = run_json(pin + cmd, env)
            if side == "cpython":
                python_version = data.get("python")
            collect(side, data)
        print(f"round {r + 1}/{rounds} done ({time.monotonic() - t_start:.1f} s)", file=sys.stderr)
    load_end = os.getloadavg()[0]

    def rate(key, which="median"):
        s = samples.get(key)
        if not s:
            return None
        ops = info[key]["ops"]
        t = {"median": statistics.median(s), "mean": statistics.fmean(s), "best": min(s)}[which]
        return ops / t

    def round_ratio(fast, slow):
        """Median over the rounds of fast's rate / slow's (round medians of the times)."""
        a, b = round_medians.get(fast, []), round_medians.get(slow, [])
        if not a or len(a) != len(b):
            return None, []
        oa, ob = info[fast]["ops"], info[slow]["ops"]
        ratios = [(oa / x) / (ob / y) for x, y in zip(a, b) if x > 0 and y > 0]
        return (statistics.median(ratios) if ratios else None), ratios

    def verdict(ok):
        return "-" if args.quick or ok is None else ("PASS" if ok else "MISS")

    def unit(x):
        """A rate with its unit, chosen to stay readable."""
        if x is None:
            return "-"
        return f"{x / 1e6:.2f} M/s" if x >= 1e6 else f"{x / 1e3:.1f} k/s"

    print()
    print(f"Synchronization objects: libmp against CPython {python_version} ({args.python}), "
          f"{rounds} interleaved round(s) of {max(1, args.repeat)} run(s) per side, {platform.node()}, "
          f"{os.cpu_count()} CPU(s), load average {load_start:.2f} before, {load_end:.2f} after"
          + (f", every process pinned with taskset -c {args.taskset}" if args.taskset else ""))
    if max(load_start, load_end) > 0.5 * (os.cpu_count() or 1) + 1:
        print("WARNING: the machine is busy with other work: the figures are noisier than usual "
              "(the per-round ratios are the steadiest).")
    if args.quick:
        print("QUICK MODE: a few iterations to check that everything runs; the figures mean nothing.")

    summary = {}
    lines = []
    for number, name in enumerate(wanted, 1):
        label, title = LABELS[name]
        lib, cpy = ("libmp", name), ("cpython", name)
        n_it = (info.get(lib) or info.get(cpy) or {}).get("iterations")
        print()
        print(f"{number}. {label}: {title} ({n_it} per run{' per process' if name == 'value' else ''})")
        header = (f"  {'what':<52} {'method':<11} {'runs':>4} {'median s':>10} "
                  f"{'M/s median':>10} {'M/s mean':>9} {'M/s best':>9}")
        print(header)
        print("  " + "-" * (len(header) - 2))
        rows = [(text, (side, f)) for side, f, text in FLOORS[name] if (side, f) in samples]
        rows += [(f"libmp ({name})", lib), (f"CPython multiprocessing ({name})", cpy)]
        for text, key in rows:
            if key not in samples:
                continue
            s = samples[key]
            print(f"  {text:<52} {info[key].get('start_method') or '-':<11} {len(s):>4} "
                  f"{fmt(statistics.median(s), 10, 5)} {fmt(rate(key) / 1e6, 10, 4)} "
                  f"{fmt(rate(key, 'mean') / 1e6, 9, 4)} {fmt(rate(key, 'best') / 1e6, 9, 4)}")
        ratio, per_round = round_ratio(lib, cpy)
        med_ratio = rate(lib) / rate(cpy) if rate(lib) and rate(cpy) else None
        v = verdict(None if ratio is None else ratio >= TARGET_RATIO)
        print()
        print(f"  libmp/CPython {fmt(ratio, 7, 2)}x per round (rounds: "
              f"{', '.join(f'{x:.2f}' for x in per_round)}), {fmt(med_ratio, 1, 2)}x from the pooled "
              f"medians   target >= {TARGET_RATIO:.0f}x   {v}")
        floor_info = {}
        for side, f, text in FLOORS[name]:
            key = (side, f)
            if key in samples and f.startswith("raw"):
                fr, _ = round_ratio(lib, key)
                floor_info[f] = {"rate_median": rate(key), "libmp_over_floor": fr}
                print(f"  libmp/{f:<11} {fmt(fr, 7, 2)}x per round   ({text}: {unit(rate(key))})")
                if name != "lock":
                    fc, _ = round_ratio(key, cpy)
                    floor_info[f]["floor_over_cpython"] = fc
                    print(f"  {f}/CPython {fmt(fc, 7, 2)}x per round   (what the floor itself reaches "
                          f"against CPython here)")
        if name == "lock" and ("cpython", "lock_with") in samples:
            rw, _ = round_ratio(lib, ("cpython", "lock_with"))
            floor_info["cpython_lock_with"] = {"rate_median": rate(("cpython", "lock_with")),
                                               "libmp_over_it": rw}
            print(f"  libmp/CPython `with lock:` {fmt(rw, 1, 2)}x per round (the ratio above is against "
                  f"CPython's fastest form, bound acquire/release kept in locals)")
        if name == "lock" and ("libmp", "raw_lock") in samples and rate(cpy):
            need = TARGET_RATIO * rate(cpy)
            print(f"  the target is {unit(need)} = {1e9 / need:.1f} ns per pair; the floor's pair takes "
                  f"{1e9 / rate(('libmp', 'raw_lock')):.1f} ns, libmp's {1e9 / rate(lib):.1f} ns, "
                  f"CPython's {1e9 / rate(cpy):.1f} ns")
        if name in ("event", "condition", "condition2") and rate(lib) and rate(cpy):
            print(f"  per round trip (from the medians): libmp {1e6 / rate(lib):.2f} us, "
                  f"CPython {1e6 / rate(cpy):.2f} us")
        if name == "value" and rate(lib) and rate(cpy):
            print(f"  per increment (from the medians): libmp {1e9 / rate(lib):.0f} ns, "
                  f"CPython {1e9 / rate(cpy):.0f} ns; the target is {1e9 / (TARGET_RATIO * rate(cpy)):.0f} ns")
            l1, c1 = rate(("libmp", "value_1p")), rate(("cpython", "value_1p"))
            if l1 and c1:
                r1, _ = round_ratio(("libmp", "value_1p"), ("cpython", "value_1p"))
                print(f"  one process alone: libmp {1e9 / l1:.0f} ns, CPython {1e9 / c1:.0f} ns per increment, "
                      f"ratio {fmt(r1, 1, 2)}x per round: the calls' cost, without contention")
        lines.append(f"{label}: libmp {unit(rate(lib))}, CPython {unit(rate(cpy))}, ratio "
                     f"{fmt(ratio, 1, 2)}x (target {TARGET_RATIO:.0f}x: {v})")
        summary[name] = {"libmp_rate_median": rate(lib), "cpython_rate_median": rate(cpy),
                         "ratio_per_round": ratio, "ratios": per_round, "ratio_pooled_medians": med_ratio,
                         "target_ratio": TARGET_RATIO, "verdict": v, "floors": floor_info}

    print()
    print("Summary (rates from the medians of all runs; the ratio is the median of the per-round ratios):")
    for line in lines:
        print(f"  {line}")
    print()
    print("A miss is reported, never a failure. Each side uses its library's default start method unless")
    print("--start-method says otherwise; no start is timed (the children are ready before the clock).")

    print()
    print("Spread of the run times (min .. max), to judge the noise:")
    for (side, name), s in sorted(samples.items()):
        print(f"  {name:<11} {side:<8} {min(s):10.5f} .. {max(s):10.5f} s   ({len(s)} runs)")

    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"summary": summary,
                       "samples": {f"{side}/{name}": s for (side, name), s in samples.items()}},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
