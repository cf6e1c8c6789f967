#!/usr/bin/python3
# value-counter-lock.py: mirrors seed 004 "进程同步" (the corrected
# example): as value-counter.py, ten processes that each add 1 fifty times
# to a shared Value('i', 0), but each addition happens while holding a
# Lock, so no process reads the value while another is between its read
# and its write: the result is always 500.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 value-counter-lock.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import sys
import time

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


@Mp.task
def func(val, lock):
    for i in range(50):
        time.sleep(0.01)
        # with lock 语句是对下面语句的简写：
        #
        # lock.acquire()
        # val.value += 1
        # lock.release()
        #
        with lock:
            val.value += 1


Mp.init()  # tasks first, then Mp.init()

if __name__ == "__main__":
    v = Mp.Value("i", 0)
    lock = Mp.Lock()  # 初始化锁
    procs = [Mp.Process(target=func, args=(v, lock)) for i in range(10)]

    for p in procs:
        p.start()
    for p in procs:
        p.join()
        p.check_error()  # raises the child's error, if it had one
        if p.exitcode != 0:  # a crash (killed by a signal) has no error to raise
            sys.exit(f"{p.name} (pid {p.pid}) exited with {p.exitcode}")

    print(v.value)
