# bench_queue_cpython.py: the CPython side of the queue benchmark
#
#   python3 bench_queue_cpython.py [--what p1c1,p1c2,bytes] [--items N]
#       [--bytes-items N] [--size-mib N] [--repeat N] [--start-method M]
#       [--quick] [--json]
#
# The same measurements as bench-queue.c, with multiprocessing.Queue() and
# Process children, in multiprocessing's default context unless
# --start-method says otherwise:
#
# p1c1   one producer puts --items (200000) ints 0, 1, 2... then one None per
#        consumer; one consumer gets and counts until its None.
# p1c2   the same with two consumers.
# bytes  one producer, one consumer, --bytes-items (50) bytes objects of
#        --size-mib (10) MiB; b"" ends.
#
# One sample is one run: from the producer's clock just before its first put
# to the last consumer's clock after it got its end marker (time.monotonic_ns,
# CLOCK_MONOTONIC as in the C program). The children are started and have
# said they are ready (on a Pipe) before the producer is told to go.
#
# The data are checked as in the C program: the counts and sums of what the
# consumers got must be those of 0..N-1, and each consumer must see the items
# in increasing order; each bytes item has its size and 32 spread 8-byte words
# checked, 16 of them stamped with the item's number (the same splitmix64
# stamps as the C side). bytes objects cannot be stamped in place, so the
# producer builds its distinct items before it says it is ready (untimed;
# the C producer stamps a reused buffer, which costs nothing either).
#
# Kept minimal on purpose: forkserver and spawn children import this script
# again.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import multiprocessing

N_CHECKS = 32
STAMP_SEED = 0x5eed000000000000
M64 = (1 << 64) - 1


def pattern_word(i):
    z = (i + 0x9e3779b97f4a7c15) & M64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return z ^ (z >> 31)


def check_offset(size, k):
    stride = size // N_CHECKS
    pos = (stride * k + (k * 4099) % stride) & ~7
    return min(pos, size - 8)


def base_pattern(size):
    import random
    return random.Random(1).randbytes(size)


def producer(q, conn, n_items, size, n_consumers):
    import struct
    import time
    items = None
    if size:
        base = base_pattern(size)
        items = []
        for i in range(n_items):
            b = bytearray(base)
            for k in range(0, N_CHECKS, 2):
                struct.pack_into("<Q", b, check_offset(size, k), pattern_word(STAMP_SEED + i * N_CHECKS + k))
            items.append(bytes(b))
            del b
    conn.send("ready")
    conn.recv()                       # go
    put = q.put
    t0 = time.monotonic_ns()
    if size:
        for item in items:
            put(item)
        end = b""
    else:
        for i in range(n_items):
            put(i)
        end = None
    for _ in range(n_consumers):
        put(end)
    t_put = time.monotonic_ns()
    q.close()
    q.join_thread()                   # the feeder thread has written everything
    t_closed = time.monotonic_ns()
    conn.send((t0, t_put, t_closed))


def consumer(q, conn, size):
    import struct
    import time
    get = q.get
    count = total = 0
    last = -1
    problem = None
    t_first = 0
    if size:
        base = base_pattern(size)
        unpack = struct.unpack_from
        base_words = {k: unpack("<Q", base, check_offset(size, k))[0] for k in range(1, N_CHECKS, 2)}
        offsets = [check_offset(size, k) for k in range(N_CHECKS)]
    conn.send("ready")
    if not size:
        while True:
            x = get()
            if x is None:
                break
            if count == 0:
                t_first = time.monotonic_ns()
            if x <= last and problem is None:
                problem = f"{x} came after {last}"
            last = x
            count += 1
            total += x
    else:
        while True:
            data = get()
            if count == 0:
                t_first = time.monotonic_ns()
            if not data:
                break
            count += 1
            if len(data) != size:
                problem = problem or f"an item of {len(data)} bytes, not {size}"
                continue
            w0 = unpack("<Q", data, offsets[0])[0]
            item_no = next((g for g in range(last + 1, last + 1 + 100000)
                            if pattern_word(STAMP_SEED + g * N_CHECKS) == w0), None)
            if item_no is None:
                problem = problem or f"item {count - 1}: its first stamp is no item's"
                continue
            for k in range(N_CHECKS):
                want = pattern_word(STAMP_SEED + item_no * N_CHECKS + k) if k % 2 == 0 else base_words[k]
                if unpack("<Q", data, offsets[k])[0] != want:
                    problem = problem or f"item {item_no}: word {k} at offset {offsets[k]} is wrong"
                    break
            last = item_no
            total += item_no
            del data
    t_end = time.monotonic_ns()
    conn.send((count, total, t_first, t_end, problem is None, problem or ""))


def measure_once(ctx, n_items, size, n_consumers):
    q = ctx.Queue()
    consumers = []
    for _ in range(n_consumers):
        mine, theirs = ctx.Pipe()
        p = ctx.Process(target=consumer, args=(q, theirs, size))
        p.start()
        theirs.close()
        consumers.append((mine, p))
    mine, theirs = ctx.Pipe()
    prod = ctx.Process(target=producer, args=(q, theirs, n_items, size, n_consumers))
    prod.start()
    theirs.close()
    for c, _ in consumers:
        if c.recv() != "ready":
            raise SystemExit("a consumer did not start")
    if mine.recv() != "ready":
        raise SystemExit("the producer did not start")
    mine.send("go")
    t0, t_put, t_closed = mine.recv()
    results = [c.recv() for c, _ in consumers]
    for c, p in consumers + [(mine, prod)]:
        p.join()
        c.close()
        if p.exitcode != 0:
            raise SystemExit(f"a child exited with {p.exitcode}")
    q.close()
    count = sum(r[0] for r in results)
    total = sum(r[1] for r in results)
    t_end = max(r[3] for r in results)
    for r in results:
        if not r[4]:
            raise SystemExit(f"a consumer got wrong data: {r[5]}")
    if count != n_items or total != n_items * (n_items - 1) // 2:
        raise SystemExit(f"{n_items} items put, {count} got (sum {total})")
    return ((t_end - t0) / 1e9, (t_put - t0) / 1e9, (t_closed - t0) / 1e9,
            results[0][0] / n_items)


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
        description="CPython side of the queue benchmark: items through multiprocessing.Queue")
    parser.add_argument("--what", default="p1c1,p1c2,bytes")
    parser.add_argument("--items", "-n", type=int, default=None)
    parser.add_argument("--bytes-items", type=int, default=None)
    parser.add_argument("--size-mib", type=float, default=None)
    parser.add_argument("--repeat", "-r", type=int, default=None)
    parser.add_argument("--start-method", default="default")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    defaults = dict(items=200000, bytes_items=50, size_mib=10, repeat=3)
    if args.quick:
        defaults = dict(items=2000, bytes_items=3, size_mib=1, repeat=1)
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)

    method = None if args.start_method == "default" else args.start_method
    if method is not None and method not in multiprocessing.get_all_start_methods():
        sys.exit(f"unknown or unavailable start method {method!r}")
    ctx = multiprocessing.get_context(method)
    method_used = ctx.get_start_method()
    size = int(args.size_mib * 1048576)

    plan = []
    for what in [w.strip() for w in args.what.split(",") if w.strip()]:
        if what == "p1c1":
            plan.append((what, args.items, 0, 1))
        elif what == "p1c2":
            plan.append((what, args.items, 0, 2))
        elif what == "bytes":
            plan.append((what, args.bytes_items, size, 1))
        else:
            sys.exit(f"unknown measurement {what!r} (p1c1, p1c2, bytes)")

    runs = {name: [] for name, *_ in plan}
    for rep in range(max(1, args.repeat)):
        for name, n_items, sz, n_consumers in (plan if rep % 2 == 0 else plan[::-1]):
            runs[name].append(measure_once(ctx, n_items, sz, n_consumers))

    results = {}
    for name, n_items, sz, n_consumers in plan:
        r = runs[name]
        seconds = [x[0] for x in r]
        results[name] = dict(kind="cpython", start_method=method_used, unit="s", items=n_items,
                             size=sz, consumers=n_consumers, **summary(seconds), samples=seconds,
                             put_seconds=[x[1] for x in r], close_seconds=[x[2] for x in r],
                             first_share=[x[3] for x in r])

    if args.json:
        json.dump({"program": "cpython", "pid": os.getpid(),
                   "python": sys.version.split()[0], "executable": sys.executable,
                   "results": results}, sys.stdout)
        print()
    else:
        print(f"{'what':<10} {'method':<11} {'items':>9} {'runs':>5} {'mean s':>10} {'median s':>10} "
              f"{'rate (mean)':>14} {'rate (median)':>14}")
        for name, r in results.items():
            unit, u = (r["size"] / 1e9, "GB/s") if r["size"] else (1e-6, "M msg/s")
            print(f"{name:<10} {r['start_method']:<11} {r['items']:>9} {r['runs']:>5} {r['mean']:>10.4f} "
                  f"{r['median']:>10.4f} {r['items'] * unit / r['mean']:>7.3f} {u:<6} "
                  f"{r['items'] * unit / r['median']:>7.3f} {u:<6}")


if __name__ == "__main__":
    main()
