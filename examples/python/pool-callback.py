#!/usr/bin/python3
# pool-callback.py: mirrors seed 003 §9.6 "进程池": a Pool(4) gets five
# task calls through apply_async() with a callback, which gets the task's
# return value (its number) in the parent; close() and join() wait for
# them all.
#
# Each task prints its number and its worker's pid, sleeps a random time
# (random() * 0.3 s here, against the seed's 3 s, to keep the test short),
# prints how long it ran and returns its number. The callback prints
# "callback <number>" (the seed prints the bare number).
#
# As in Python, the callbacks run on a thread of the pool in the parent,
# with no main loop in the program; join() returns once they all have run.
# A failed task calls the error_callback instead, which prints the error,
# and the exit status is 1.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 pool-callback.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import random
import sys
import time

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402

failures = []


def callback(num):
    print("callback %s" % num, flush=True)


def error_callback(error):
    print(error.message, file=sys.stderr, flush=True)
    failures.append(error)


def task(num):
    print(f"Run task {num} ({os.getpid()})...", flush=True)
    start = time.time()
    time.sleep(random.random() * 0.3)
    end = time.time()
    print(f"Task {num} runs {(end - start):,.2f} seconds.", flush=True)
    return num


Mp.init()  # functions first, then Mp.init()

if __name__ == "__main__":
    # 获取cpu核心数
    print("cpu count:", Mp.cpu_count())
    print(f"Parent process {os.getpid()}", flush=True)
    # 创建进程池，一般进程池中的进程数不超过cpu核心数
    pool = Mp.Pool(4)
    # 循环创建进程并添加到进程池中
    for i in range(5):
        pool.apply_async(func=task, args=(i,), callback=callback, error_callback=error_callback)
    print("Waiting for all subprocess done...", flush=True)
    # 关闭进程池，关闭后就不能添加进程了
    pool.close()
    # 等待进程结束
    pool.join()
    print("All subprocess done.")
    sys.exit(1 if failures else 0)
