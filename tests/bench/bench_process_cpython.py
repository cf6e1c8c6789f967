#!/usr/bin/env python3
# bench_process_cpython.py: the CPython side of the process start benchmark
#
#   bench_process_cpython.py [--methods fork,forkserver,spawn]
#                            [--iterations N] [--spawn-iterations N]
#                            [--warmup N] [--quick] [--json]
#
# One sample is multiprocessing.get_context(method).Process(target=noop)
# made, started, joined and dropped: the same workload as bench-process.c.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

# Every spawn and forkserver child imports this module again (as
# __mp_main__): keep the module level to what a minimal multiprocessing
# script has, so that the child's start-up is CPython's, not this
# harness's. The harness's own imports are in the functions below (with
# argparse, json and statistics at module level, CPython's forkserver took
# 13.5 ms instead of 9.7 ms per start here, and spawn 35 ms instead of 32).
import multiprocessing
import time


def noop():
    pass


def run_once(ctx):
    p = ctx.Process(target=noop)
    p.start()
    p.join()
    code = p.exitcode
    del p
    if code != 0:
        raise RuntimeError(f"the child exited with {code}")


def measure(method, iterations, warmup):
    ctx = multiprocessing.get_context(method)
    for _ in range(warmup):
        run_once(ctx)
    samples = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        run_once(ctx)
        samples.append((clock() - start) / 1e6)
    return samples


def summary(samples):
    import statistics
    return {
        "iterations": len(samples),
        "mean_ms": statistics.fmean(samples),
        "median_ms": statistics.median(samples),
        "min_ms": min(samples),
        "max_ms": max(samples),
        "stddev_ms": statistics.stdev(samples) if len(samples) > 1 else 0.0,
    }


def main():
    import argparse
    import json
    import os
    import sys

    parser = argparse.ArgumentParser(
        description="CPython side of the process start benchmark: start+join of a child that does nothing")
    parser.add_argument("--methods", default="fork,forkserver,spawn")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--spawn-iterations", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    if args.quick:
        args.iterations = 3 if args.iterations is None else args.iterations
        args.warmup = 1 if args.warmup is None else args.warmup
    warmup = 5 if args.warmup is None else args.warmup
    spawn_iterations = args.spawn_iterations
    if spawn_iterations is None:
        spawn_iterations = args.iterations if args.iterations is not None else 100
    iterations = 200 if args.iterations is None else args.iterations

    results = {}
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        if method not in multiprocessing.get_all_start_methods():
            sys.exit(f"unknown or unavailable start method {method!r}")
        n = spawn_iterations if method == "spawn" else iterations
        samples = measure(method, n, warmup)
        results[method] = dict(kind="cpython", **summary(samples), samples_ms=samples)

    if args.json:
        json.dump({"program": "cpython", "pid": os.getpid(),
                   "python": sys.version.split()[0], "executable": sys.executable,
                   "results": results}, sys.stdout)
        print()
    else:
        print(f"{'what':<18} {'n':>6} {'mean ms':>10} {'median ms':>10} {'min ms':>10} {'max ms':>10}")
        for name, r in results.items():
            print(f"{name:<18} {r['iterations']:>6} {r['mean_ms']:>10.3f} {r['median_ms']:>10.3f} "
                  f"{r['min_ms']:>10.3f} {r['max_ms']:>10.3f}")


if __name__ == "__main__":
    main()
