#!/usr/bin/python3
# value-counter.py: mirrors seed 004 "进程同步" (first example): a counter
# v = Value('i', 0) in shared memory, ten processes that each add 1 to it
# fifty times, sleeping 0.01 s before each step. `val.value += 1` reads
# the value and then writes it plus one, with nothing held in between, so
# two processes may read the same value and one of their additions is
# lost: the result is 500 at most, and may be less.
# value-counter-lock.py is the fix.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 value-counter.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import sys
import time

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


@Mp.task
def func(val):
    for i in range(50):
        time.sleep(0.01)
        val.value += 1


Mp.init()  # tasks first, then Mp.init()

if __name__ == "__main__":
    # 多进程无法使用全局变量，Value 可以在多进程中共享这个变量
    v = Mp.Value("i", 0)
    procs = [Mp.Process(target=func, args=(v,)) for i in range(10)]

    for p in procs:
        p.start()
    for p in procs:
        p.join()
        p.check_error()  # raises the child's error, if it had one
        if p.exitcode != 0:  # a crash (killed by a signal) has no error to raise
            sys.exit(f"{p.name} (pid {p.pid}) exited with {p.exitcode}")

    print(v.value)
