# bench_pool_python.py: the libmp Python side of the Python pool benchmark
#
#   /usr/bin/python3 bench_pool_python.py [--what map,map_small,imap,apply_async,apply]
#       [--workers N] [--map-items N] [--map-small-items N] [--imap-items N]
#       [--async-tasks N] [--apply-calls N] [--repeat N] [--start-method M]
#       [--quick] [--json]
#
# bench_pool_cpython.py's measurements, run by the very same code (its
# measure functions, imported) on the PyGObject override's Mp.Pool instead
# of multiprocessing.Pool: what a Python program gets when it swaps one
# for the other. The task is bench_pool_cpython.square (x * x), a plain
# module-level function, as Python's Pool takes it; every pool is new,
# made with --workers (2) workers and warmed up before the clock (a map
# over 2 x workers items with chunksize 1), and every value is checked.
# run-bench-pool-python.py runs this and bench_pool_cpython.py in
# interleaved rounds and prints both with their ratios.
#
# The output (--json) is bench_pool_cpython.py's, with "program": "libmp".
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import sys

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402

# The task and the measurements, imported before Mp.init(): spawn and
# forkserver workers find square() by module and name.
import bench_pool_cpython as common  # noqa: E402

Mp.init(sys.argv)


def pool_new_warm(method, workers):
    pool = Mp.Pool(workers, start_method=method)
    common.check_list("warm-up", pool.map(common.square, range(2 * workers), chunksize=1), 2 * workers)
    return pool


def main():
    import argparse
    import json
    import os
    import statistics

    parser = argparse.ArgumentParser(description="libmp's Python Mp.Pool, bench_pool_cpython.py's measurements")
    parser.add_argument("--what", default="map,map_small,imap,apply_async,apply")
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

    defaults = dict(map_items=1000000, map_small_items=100000, imap_items=100000, async_tasks=10000,
                    apply_calls=2000, repeat=3)
    if args.quick:
        defaults = dict(map_items=20000, map_small_items=2000, imap_items=2000, async_tasks=1000,
                        apply_calls=200, repeat=1)
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)

    method = None if args.start_method == "default" else args.start_method
    method_used = Mp.get_start_method().value_nick if method is None else method

    items = {"map": args.map_items, "map_small": args.map_small_items, "imap": args.imap_items,
             "apply_async": args.async_tasks, "apply": args.apply_calls}
    chunksize = {"map": 0, "map_small": 0, "imap": 1, "apply_async": 0, "apply": 0}
    plan = []
    for what in [w.strip() for w in args.what.split(",") if w.strip()]:
        if what not in common.MEASURES:
            sys.exit(f"unknown measurement {what!r} ({', '.join(common.MEASURES)})")
        if what in plan:
            sys.exit(f"measurement {what!r} asked for twice")
        plan.append(what)

    runs = {name: [] for name in plan}
    calls = {name: [] for name in plan}
    for rep in range(max(1, args.repeat)):
        for name in (plan if rep % 2 == 0 else plan[::-1]):
            pool = pool_new_warm(method, args.workers)
            try:
                seconds, per_call = common.MEASURES[name](pool, items[name])
            finally:
                pool.close()
                pool.join()
            runs[name].append(seconds)
            if per_call is not None:
                calls[name].extend(per_call)

    results = {}
    for name in plan:
        r = dict(kind="libmp-python", start_method=method_used, unit="s", items=items[name],
                 chunksize=chunksize[name], workers=args.workers, **common.summary(runs[name]),
                 samples=runs[name])
        if name == "apply":
            r["call_seconds"] = calls[name]
        results[name] = r

    if args.json:
        json.dump({"program": "libmp", "pid": os.getpid(), "workers": args.workers,
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
