# bench_pipe_cpython.py: the CPython side of the pipe benchmark
#
#   python3 bench_pipe_cpython.py [--what pingpong,bytes] [--iterations N]
#       [--warmup N] [--bytes-iterations N] [--bytes-warmup N] [--size-mib N]
#       [--start-method M] [--quick] [--json]
#
# The same measurements as bench-pipe.c, with multiprocessing.Pipe() (duplex)
# and a Process that echoes:
#
# pingpong  round trip of a small value (an int): conn.send, the child's
#           conn.recv and conn.send, conn.recv. One sample is one round trip.
# bytes     round trip of --size-mib MiB (100) with conn.send_bytes and
#           conn.recv_bytes on both sides.
#
# The data are checked as in the C program: each ping-pong answer, the first
# (untimed) bytes round trip in full, then size and 64 positions. The child
# lives for the whole measurement; None (or empty bytes) tells it to return.
# The start method is multiprocessing's default unless --start-method says
# otherwise. Kept minimal on purpose: forkserver and spawn children import
# this script again.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import multiprocessing

N_CHECKS = 64


def echo(conn):
    while True:
        try:
            obj = conn.recv()
        except EOFError:
            return
        if obj is None:
            return
        conn.send(obj)


def echo_bytes(conn):
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        if not data:
            return
        conn.send_bytes(data)


def start_peer(ctx, target):
    mine, theirs = ctx.Pipe()
    p = ctx.Process(target=target, args=(theirs,))
    p.start()
    theirs.close()
    return mine, p


def stop_peer(mine, p, stop):
    if stop is None:
        mine.send(None)
    else:
        mine.send_bytes(stop)
    p.join()
    mine.close()
    if p.exitcode != 0:
        raise SystemExit(f"the echo child exited with {p.exitcode}")


def measure_pingpong(ctx, iterations, warmup):
    import time
    clock = time.perf_counter_ns
    mine, p = start_peer(ctx, echo)
    send, recv = mine.send, mine.recv
    samples = []
    last = 0
    for i in range(warmup + iterations):
        value = i * 7 + 1
        if i == warmup:
            last = clock()
        send(value)
        back = recv()
        if back != value:
            raise SystemExit(f"ping-pong: sent {value}, got {back!r} back")
        if i >= warmup:
            t = clock()
            samples.append((t - last) / 1e3)
            last = t
    stop_peer(mine, p, None)
    return samples


def check_positions(size):
    stride = size // N_CHECKS
    return [size - 1 if k == N_CHECKS - 1 else stride * k + (k * 4099) % stride
            for k in range(N_CHECKS)]


def measure_bytes(ctx, size, iterations, warmup):
    import random
    import time
    clock = time.perf_counter_ns
    payload = random.Random(1).randbytes(size)
    positions = check_positions(size)
    mine, p = start_peer(ctx, echo_bytes)
    samples = []
    warmup = max(warmup, 1)   # at least one untimed round trip, checked in full
    for i in range(warmup + iterations):
        start = clock()
        mine.send_bytes(payload)
        back = mine.recv_bytes()
        if len(back) != size:
            raise SystemExit(f"bytes: sent {size} bytes, got {len(back)} back")
        if i == 0:
            if back != payload:
                raise SystemExit("bytes: what came back differs from what was sent")
        elif any(back[k] != payload[k] for k in positions):
            raise SystemExit("bytes: what came back differs from what was sent")
        del back
        if i >= warmup:
            samples.append((clock() - start) / 1e6)
    stop_peer(mine, p, b"")
    return samples


def summary(samples):
    import statistics
    return {
        "iterations": len(samples),
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
        description="CPython side of the pipe benchmark: round trips over multiprocessing.Pipe")
    parser.add_argument("--what", default="pingpong,bytes")
    parser.add_argument("--iterations", "-n", type=int, default=None)
    parser.add_argument("--warmup", "-w", type=int, default=None)
    parser.add_argument("--bytes-iterations", type=int, default=None)
    parser.add_argument("--bytes-warmup", type=int, default=None)
    parser.add_argument("--size-mib", type=float, default=None)
    parser.add_argument("--start-method", default="default")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    defaults = dict(iterations=20000, warmup=1000, bytes_iterations=5, bytes_warmup=1, size_mib=100)
    if args.quick:
        defaults = dict(iterations=200, warmup=20, bytes_iterations=2, bytes_warmup=1, size_mib=8)
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)

    method = None if args.start_method == "default" else args.start_method
    if method is not None and method not in multiprocessing.get_all_start_methods():
        sys.exit(f"unknown or unavailable start method {method!r}")
    ctx = multiprocessing.get_context(method)
    method_used = ctx.get_start_method()

    results = {}
    for what in [w.strip() for w in args.what.split(",") if w.strip()]:
        if what == "pingpong":
            samples = measure_pingpong(ctx, args.iterations, args.warmup)
            results[what] = dict(kind="cpython", start_method=method_used, unit="us", size=0,
                                 **summary(samples), samples=samples)
        elif what == "bytes":
            size = int(args.size_mib * 1048576)
            samples = measure_bytes(ctx, size, args.bytes_iterations, args.bytes_warmup)
            results[what] = dict(kind="cpython", start_method=method_used, unit="ms", size=size,
                                 **summary(samples), samples=samples)
        else:
            sys.exit(f"unknown measurement {what!r} (pingpong, bytes)")

    if args.json:
        json.dump({"program": "cpython", "pid": os.getpid(),
                   "python": sys.version.split()[0], "executable": sys.executable,
                   "results": results}, sys.stdout)
        print()
    else:
        print(f"{'what':<10} {'method':<11} {'n':>7} {'mean':>11} {'median':>11} {'min':>11} {'max':>11}")
        for name, r in results.items():
            u = r["unit"]
            line = (f"{name:<10} {r['start_method']:<11} {r['iterations']:>7} {r['mean']:>8.3f} {u} "
                    f"{r['median']:>8.3f} {u} {r['min']:>8.3f} {u} {r['max']:>8.3f} {u}")
            if r["size"]:
                line += f"   {2 * r['size'] / (r['mean'] / 1e3) / 1e9:.2f} GB/s (2 x {r['size'] / 1048576:.0f} MiB / mean)"
            print(line)


if __name__ == "__main__":
    main()
