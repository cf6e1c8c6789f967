# bench_pool_cpython.py: the CPython side of the pool benchmark
#
#   python3 bench_pool_cpython.py [--what map,imap,apply_async,apply]
#       [--workers N] [--map-items N] [--map-small-items N] [--imap-items N] [--async-tasks N]
#       [--apply-calls N] [--repeat N] [--start-method M] [--quick] [--json]
#
# The same measurements as bench-pool.c, with multiprocessing.Pool in
# multiprocessing's default context unless --start-method says otherwise.
# Every measurement runs on a new Pool(--workers) (2), warmed up before the
# clock starts: one pool.map(square, range(2 * workers), chunksize=1), so
# that every worker has started and answered. The task is square(x) = x * x
# throughout. After the run the pool is closed and joined, untimed.
#
# map          pool.map(square, xs) over a list of --map-items (1,000,000)
#              ints 0..N-1 (built before the clock), default chunksize.
# map_small    the same over --map-small-items (100,000) ints (not in the
#              default --what).
# imap         for value in pool.imap(square, xs, chunksize=1) over
#              --imap-items (100,000) ints.
# apply_async  --async-tasks (10,000) pool.apply_async(square, (i,)), then
#              get() on each in turn.
# apply        --apply-calls (2,000) blocking pool.apply(square, (i,)), one
#              after the other, every call timed on its own (call_seconds).
#
# Everything is checked as in the C program: each value must be its item's
# square and the values must add up to the sum of the squares of 0..N-1.
# The clock is time.monotonic_ns (CLOCK_MONOTONIC, as in the C program).
#
# Kept minimal on purpose: forkserver and spawn workers import this script
# again, so its module level is what a minimal multiprocessing script has.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import multiprocessing


def square(x):
    return x * x


def sum_of_squares(n):
    return (n - 1) * n * (2 * n - 1) // 6


def check_list(name, values, n):
    if len(values) != n:
        raise SystemExit(f"{name}: {len(values)} values for {n} items")
    for i, v in enumerate(values):
        if v != i * i:
            raise SystemExit(f"{name}: value {i} is {v}")


def pool_new_warm(ctx, workers):
    pool = ctx.Pool(workers)
    check_list("warm-up", pool.map(square, range(2 * workers), chunksize=1), 2 * workers)
    return pool


def measure_map(pool, n):
    import time
    xs = list(range(n))
    t0 = time.monotonic_ns()
    values = pool.map(square, xs)
    t1 = time.monotonic_ns()
    check_list("map", values, n)
    return (t1 - t0) / 1e9, None


def measure_map_small(pool, n):
    return measure_map(pool, n)


def measure_imap(pool, n):
    import time
    xs = list(range(n))
    total = count = 0
    t0 = time.monotonic_ns()
    for i, v in enumerate(pool.imap(square, xs, chunksize=1)):
        if v != i * i:
            raise SystemExit(f"imap: square({i}) gave {v}")
        total += v
        count += 1
    t1 = time.monotonic_ns()
    if count != n or total != sum_of_squares(n):
        raise SystemExit(f"imap: {count} values for {n} items (sum {total})")
    return (t1 - t0) / 1e9, None


def measure_apply_async(pool, n):
    import time
    total = 0
    apply_async = pool.apply_async
    t0 = time.monotonic_ns()
    results = [apply_async(square, (i,)) for i in range(n)]
    for i, r in enumerate(results):
        v = r.get()
        if v != i * i:
            raise SystemExit(f"apply_async: square({i}) gave {v}")
        total += v
    t1 = time.monotonic_ns()
    if total != sum_of_squares(n):
        raise SystemExit(f"apply_async: the values add up to {total}")
    return (t1 - t0) / 1e9, None


def measure_apply(pool, n):
    import time
    clock = time.monotonic_ns
    apply = pool.apply
    calls = []
    total = 0
    start = clock()
    for i in range(n):
        t0 = clock()
        v = apply(square, (i,))
        t1 = clock()
        if v != i * i:
            raise SystemExit(f"apply: square({i}) gave {v}")
        total += v
        calls.append((t1 - t0) / 1e9)
    end = clock()
    if total != sum_of_squares(n):
        raise SystemExit(f"apply: the values add up to {total}")
    return (end - start) / 1e9, calls


MEASURES = {"map": measure_map, "map_small": measure_map_small, "imap": measure_imap, "apply_async": measure_apply_async,
            "apply": measure_apply}


def summary(samples):
    import statistics
    return {
        "runs": len(samples),
        "mean": statistics.fmean(samples),
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
    }


def cpython_pools(method, workers):
    """multiprocessing's pools: the start method used, and a maker of warm pools."""
    import sys
    if method is not None and method not in multiprocessing.get_all_start_methods():
        sys.exit(f"unknown or unavailable start method {method!r}")
    ctx = multiprocessing.get_context(method)
    return ctx.get_start_method(), lambda: pool_new_warm(ctx, workers)


def main(program="cpython", kind="cpython", pools=cpython_pools, what="map,imap,apply_async,apply"):
    """Parses the command line, runs the measurements on pools made by
    pools(method, workers) and prints them; bench_pool_python.py runs it
    on libmp's Python pool."""
    import argparse
    import json
    import os
    import statistics
    import sys

    parser = argparse.ArgumentParser(description=f"{program}'s side of the pool benchmark: Pool's calls")
    parser.add_argument("--what", default=what)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--map-items", type=int, default=None)
    parser.add_argument("--map-small-items", type=int, default=None)
    parser.add_argument("--imap-items", type=int, default=None)
    parser.add_argument("--async-tasks", type=int, default=None)
    parser.add_argument("--apply-calls", type=int, default=None)
    parser.add_argument("--repeat", "-r", type=int, default=None)
    parser.add_argument("--start-method", default="default")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    defaults = dict(map_items=1000000, map_small_items=100000, imap_items=100000, async_tasks=10000, apply_calls=2000, repeat=3)
    if args.quick:
        defaults = dict(map_items=20000, map_small_items=2000, imap_items=2000, async_tasks=1000, apply_calls=200, repeat=1)
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)

    method = None if args.start_method == "default" else args.start_method
    method_used, new_pool = pools(method, args.workers)

    items = {"map": args.map_items, "map_small": args.map_small_items, "imap": args.imap_items, "apply_async": args.async_tasks,
             "apply": args.apply_calls}
    chunksize = {"map": 0, "map_small": 0, "imap": 1, "apply_async": 0, "apply": 0}
    plan = []
    for what in [w.strip() for w in args.what.split(",") if w.strip()]:
        if what not in MEASURES:
            sys.exit(f"unknown measurement {what!r} ({', '.join(MEASURES)})")
        if what in plan:
            sys.exit(f"measurement {what!r} asked for twice")
        plan.append(what)

    runs = {name: [] for name in plan}
    calls = {name: [] for name in plan}
    for rep in range(max(1, args.repeat)):
        for name in (plan if rep % 2 == 0 else plan[::-1]):
            pool = new_pool()
            try:
                seconds, per_call = MEASURES[name](pool, items[name])
            finally:
                pool.close()
                pool.join()
            runs[name].append(seconds)
            if per_call is not None:
                calls[name].extend(per_call)

    results = {}
    for name in plan:
        r = dict(kind=kind, start_method=method_used, unit="s", items=items[name],
                 chunksize=chunksize[name], workers=args.workers, **summary(runs[name]),
                 samples=runs[name])
        if name == "apply":
            r["call_seconds"] = calls[name]
        results[name] = r

    if args.json:
        json.dump({"program": program, "pid": os.getpid(), "workers": args.workers,
                   "python": sys.version.split()[0], "executable": sys.executable,
                   "results": results}, sys.stdout)
        print()
    else:
        print(f"{'what':<12} {'method':<11} {'items':>8} {'runs':>5} {'mean s':>10} {'median s':>10}  "
              f"figure (median)")
        for name, r in results.items():
            if name in ("map", "map_small", "imap"):
                figure = f"{r['items'] / r['median']:.0f} items/s"
            elif name == "apply_async":
                figure = f"{r['median'] * 1e6 / r['items']:.2f} us per task"
            else:
                c = r["call_seconds"]
                figure = (f"{statistics.median(c) * 1e6:.1f} us per call "
                          f"(mean {statistics.fmean(c) * 1e6:.1f})")
            print(f"{name:<12} {r['start_method']:<11} {r['items']:>8} {r['runs']:>5} {r['mean']:>10.4f} "
                  f"{r['median']:>10.4f}  {figure}")


if __name__ == "__main__":
    main()
