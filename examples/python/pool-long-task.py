#!/usr/bin/python3
# pool-long-task.py: mirrors seed 000's process pool example: a Pool(4)
# gets five calls of long_time_task through apply_async(); the fifth waits
# for a free worker. Each prints its number and its worker's pid, sleeps a
# random time (random() * 0.3 s here, against the seed's 3 s, to keep the
# test short) and prints how long it ran. close() and join() wait for them
# all.
#
# The seed never looks at the results, so a call that failed would go
# unnoticed; here the parent gets each one after join(): a failure raises
# (its GLib.Error carries the worker's traceback) and the exit status is 1.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 pool-long-task.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import random
import time

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


def long_time_task(name):
    print("Run task %s (%s)..." % (name, os.getpid()), flush=True)
    start = time.time()
    time.sleep(random.random() * 0.3)
    end = time.time()
    print("Task %s runs %0.2f seconds." % (name, (end - start)), flush=True)


Mp.init()  # functions first, then Mp.init()

if __name__ == "__main__":
    print("Parent process %s." % os.getpid(), flush=True)
    p = Mp.Pool(4)  # 实例化进程池并指定同时执行的子进程数量
    results = []
    for i in range(5):  # 这里指定5，所以第五个任务不是与前四个同时执行
        results.append(p.apply_async(long_time_task, args=(i,)))
    print("Waiting for all subprocesses done...", flush=True)
    p.close()
    p.join()
    for r in results:  # the seed does not look; a failure raises here
        r.get()
    print("All subprocesses done.")
