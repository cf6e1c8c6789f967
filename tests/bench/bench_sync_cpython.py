# bench_sync_cpython.py: the CPython side of the sync benchmark
#
#   python3 bench_sync_cpython.py [--what lock,rlock,lock_with,event,condition,condition2,value,
#       value_1p]
#       [--lock-pairs N] [--round-trips N] [--increments N] [--repeat N]
#       [--start-method M] [--quick] [--json]
#
# The same measurements as bench-sync.c, with multiprocessing's objects and
# Process children, in multiprocessing's default context unless
# --start-method says otherwise:
#
# lock        uncontended, in this process: --lock-pairs (2000000)
#             lock.acquire() + lock.release() pairs on one Lock (the bound
#             methods kept in locals, the fastest way to call them), after
#             10000 untimed ones.
# rlock       the same with an RLock, for the analysis.
# lock_with   the same pairs as `with lock: pass`, for the analysis: the
#             usual way to write it, much slower in CPython (SemLock's
#             __enter__ and __exit__ are Python methods).
# event       a ping-pong through two Events between this process (A) and a
#             child (B): A sets e1, waits for e2 and clears it; B waits for
#             e1, clears it and sets e2. --round-trips (20000) timed round
#             trips after 200 untimed ones.
# condition   a ping-pong through one Condition and a turn in a
#             Value('i', lock=False): A, holding the condition, sets the
#             turn to 1, notifies and waits until it is 0; B waits until it
#             is 1, sets it to 0 and notifies.
# condition2  the same with two Conditions on one RLock (A waits on cond_a
#             and notifies cond_b, B the other way round), as the C side's
#             default (see bench-sync.c).
# value       two children each do --increments (100000) times
#             `with v.get_lock(): v.value += 1` on one Value('i'); they
#             wait on an Event the parent sets once both are ready; the
#             clock runs from the earlier child's first increment to the
#             later child's last (time.monotonic_ns, CLOCK_MONOTONIC as in
#             the C program). The value must be 2 x N after.
# value_1p    the same increments, --increments of them, in this process
#             alone, for the analysis: what they cost without contention.
#
# Kept minimal on purpose: forkserver and spawn children import this script
# again.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import multiprocessing

LOCK_WARMUP = 10000
PINGPONG_WARMUP = 200


def event_partner(conn, e1, e2, n):
    conn.send("ready")
    done = 0
    for _ in range(n):
        e1.wait()
        e1.clear()
        e2.set()
        done += 1
    conn.send(done)


def condition_partner(conn, ca, cb, turn, n):
    conn.send("ready")
    done = 0
    with cb:
        for _ in range(n):
            while turn.value != 1:
                cb.wait()
            turn.value = 0
            ca.notify()
            done += 1
    conn.send(done)


def incrementer(conn, v, go, n):
    import time
    conn.send("ready")
    go.wait()
    t0 = time.monotonic_ns()
    for _ in range(n):
        with v.get_lock():
            v.value += 1
    t1 = time.monotonic_ns()
    conn.send((t0, t1))


def start(ctx, target, *args):
    mine, theirs = ctx.Pipe()
    p = ctx.Process(target=target, args=(theirs,) + args)
    p.start()
    theirs.close()
    if mine.recv() != "ready":
        raise SystemExit("a child did not start")
    return mine, p


def finish(mine, p):
    p.join()
    mine.close()
    if p.exitcode != 0:
        raise SystemExit(f"a child exited with {p.exitcode}")


def measure_lock(ctx, name, n):
    import time
    lock = ctx.Lock() if name == "lock" else ctx.RLock()
    acq, rel = lock.acquire, lock.release
    for _ in range(LOCK_WARMUP):
        acq()
        rel()
    t0 = time.perf_counter_ns()
    for _ in range(n):
        acq()
        rel()
    t1 = time.perf_counter_ns()
    if not acq(False):
        raise SystemExit(f"{name}: the lock is still held")
    rel()
    return (t1 - t0) / 1e9


def measure_lock_with(ctx, name, n):
    import time
    lock = ctx.Lock()
    for _ in range(LOCK_WARMUP):
        with lock:
            pass
    t0 = time.perf_counter_ns()
    for _ in range(n):
        with lock:
            pass
    t1 = time.perf_counter_ns()
    if not lock.acquire(False):
        raise SystemExit(f"{name}: the lock is still held")
    lock.release()
    return (t1 - t0) / 1e9


def measure_event(ctx, name, n):
    import time
    e1, e2 = ctx.Event(), ctx.Event()
    total = n + PINGPONG_WARMUP
    mine, p = start(ctx, event_partner, e1, e2, total)
    t0 = None
    for i in range(total):
        if i == PINGPONG_WARMUP:
            t0 = time.perf_counter_ns()
        e1.set()
        e2.wait()
        e2.clear()
    t1 = time.perf_counter_ns()
    got = mine.recv()
    finish(mine, p)
    if got != total:
        raise SystemExit(f"{name}: the partner counted {got} round trips, not {total}")
    if e1.is_set() or e2.is_set():
        raise SystemExit(f"{name}: an event is still set at the end")
    return (t1 - t0) / 1e9


def measure_condition(ctx, name, n):
    import time
    if name == "condition2":
        lock = ctx.RLock()
        ca, cb = ctx.Condition(lock), ctx.Condition(lock)
    else:
        ca = cb = ctx.Condition()
    turn = ctx.Value("i", 0, lock=False)
    total = n + PINGPONG_WARMUP
    mine, p = start(ctx, condition_partner, ca, cb, turn, total)
    t0 = None
    with ca:
        for i in range(total):
            if i == PINGPONG_WARMUP:
                t0 = time.perf_counter_ns()
            turn.value = 1
            cb.notify()
            while turn.value != 0:
                ca.wait()
    t1 = time.perf_counter_ns()
    got = mine.recv()
    finish(mine, p)
    if got != total:
        raise SystemExit(f"{name}: the partner counted {got} round trips, not {total}")
    return (t1 - t0) / 1e9


def measure_value_1p(ctx, name, n):
    import time
    v = ctx.Value("i", 0)
    for _ in range(LOCK_WARMUP):
        with v.get_lock():
            v.value += 1
    t0 = time.perf_counter_ns()
    for _ in range(n):
        with v.get_lock():
            v.value += 1
    t1 = time.perf_counter_ns()
    if v.value != n + LOCK_WARMUP:
        raise SystemExit(f"{name}: the value is {v.value} after {n + LOCK_WARMUP} increments")
    return (t1 - t0) / 1e9


def measure_value(ctx, name, n):
    v = ctx.Value("i", 0)
    go = ctx.Event()
    children = [start(ctx, incrementer, v, go, n) for _ in range(2)]
    go.set()
    times = [mine.recv() for mine, _ in children]
    for mine, p in children:
        finish(mine, p)
    if v.value != 2 * n:
        raise SystemExit(f"{name}: the value is {v.value} after 2 x {n} increments")
    t0 = min(t[0] for t in times)
    t1 = max(t[1] for t in times)
    if t1 <= t0:
        raise SystemExit(f"{name}: the clocks make no sense")
    return (t1 - t0) / 1e9


MEASURES = {
    "lock": (measure_lock, "lock_pairs", 1, False),
    "rlock": (measure_lock, "lock_pairs", 1, False),
    "lock_with": (measure_lock_with, "lock_pairs", 1, False),
    "event": (measure_event, "round_trips", 1, True),
    "condition": (measure_condition, "round_trips", 1, True),
    "condition2": (measure_condition, "round_trips", 1, True),
    "value": (measure_value, "increments", 2, True),
    "value_1p": (measure_value_1p, "increments", 1, False),
}


def summary(samples):
    import statistics
    return {
        "runs": len(samples),
        "mean": statistics.fmean(samples),
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
    }


def main():
    import argparse
    import json
    import os
    import sys

    parser = argparse.ArgumentParser(
        description="CPython side of the sync benchmark: multiprocessing's Lock, Event, Condition, Value")
    parser.add_argument("--what", default="lock,event,condition2,value")
    parser.add_argument("--lock-pairs", type=int, default=None)
    parser.add_argument("--round-trips", type=int, default=None)
    parser.add_argument("--increments", type=int, default=None)
    parser.add_argument("--repeat", "-r", type=int, default=None)
    parser.add_argument("--start-method", default="default")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    defaults = dict(lock_pairs=2000000, round_trips=20000, increments=100000, repeat=3)
    if args.quick:
        defaults = dict(lock_pairs=20000, round_trips=200, increments=2000, repeat=1)
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if min(args.lock_pairs, args.round_trips, args.increments) < 1:
        sys.exit("--lock-pairs, --round-trips and --increments must be positive")

    method = None if args.start_method == "default" else args.start_method
    if method is not None and method not in multiprocessing.get_all_start_methods():
        sys.exit(f"unknown or unavailable start method {method!r}")
    ctx = multiprocessing.get_context(method)
    method_used = ctx.get_start_method()

    plan = []
    for what in [w.strip() for w in args.what.split(",") if w.strip()]:
        if what not in MEASURES:
            sys.exit(f"unknown measurement {what!r} ({', '.join(MEASURES)})")
        if what in plan:
            sys.exit(f"measurement {what!r} asked for twice")
        plan.append(what)

    runs = {name: [] for name in plan}
    for rep in range(max(1, args.repeat)):
        for name in (plan if rep % 2 == 0 else plan[::-1]):
            func, count_arg, _, _ = MEASURES[name]
            runs[name].append(func(ctx, name, getattr(args, count_arg)))

    results = {}
    for name in plan:
        _, count_arg, per, children = MEASURES[name]
        n = getattr(args, count_arg)
        results[name] = dict(kind="cpython", start_method=method_used if children else "-", unit="s",
                             iterations=n, ops=n * per, **summary(runs[name]), samples=runs[name])

    if args.json:
        json.dump({"program": "cpython", "pid": os.getpid(),
                   "python": sys.version.split()[0], "executable": sys.executable,
                   "results": results}, sys.stdout)
        print()
    else:
        print(f"{'what':<12} {'method':<11} {'ops':>10} {'runs':>5} {'mean s':>10} {'median s':>10} "
              f"{'M/s (mean)':>12} {'M/s (median)':>12}")
        for name, r in results.items():
            print(f"{name:<12} {r['start_method']:<11} {r['ops']:>10} {r['runs']:>5} {r['mean']:>10.5f} "
                  f"{r['median']:>10.5f} {r['ops'] / r['mean'] / 1e6:>12.4f} "
                  f"{r['ops'] / r['median'] / 1e6:>12.4f}")


if __name__ == "__main__":
    main()
