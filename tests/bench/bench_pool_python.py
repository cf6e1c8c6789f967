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


def libmp_pools(method, workers):
    """libmp's Python pools, as bench_pool_cpython.main() takes them."""
    def new_pool():
        pool = Mp.Pool(workers, start_method=method)
        common.check_list("warm-up", pool.map(common.square, range(2 * workers), chunksize=1), 2 * workers)
        return pool

    return (Mp.get_start_method().value_nick if method is None else method), new_pool


def main():
    common.main(program="libmp", kind="libmp-python", pools=libmp_pools,
                what="map,map_small,imap,apply_async,apply")


if __name__ == "__main__":
    main()
