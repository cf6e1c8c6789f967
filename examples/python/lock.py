#!/usr/bin/python3
# lock.py: mirrors seed 003 §9.4 "进程锁": five processes share one Lock;
# each takes it, sleeps a moment, prints its label and pid, and lets it
# go, so only one of them is ever between acquire and release.
#
# The seed sleeps a second inside the lock; an example need not wait that
# long, 0.05 s shows the same. The main program also prints each child's
# pid as it starts it, so the output shows who printed what. The lock is
# passed in args like any other value and is the same lock in the child.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 lock.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys
import time

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


@Mp.task
def run(label, lock):
    lock.acquire()  # 获取锁
    time.sleep(0.05)
    # 中间的任务，不可能同时多个进程任务执行
    print(label, os.getpid(), flush=True)  # flushed before the next holder prints
    lock.release()  # 释放锁


Mp.init()  # tasks first, then Mp.init()

if __name__ == "__main__":
    print("Main process:", os.getpid())
    lock = Mp.Lock()  # 创建进程锁
    recode = []  # 用于存储所有的进程
    for i in range(5):  # 创建多个子进程
        label = f"Child process {i}"
        p = Mp.Process(target=run, args=(label, lock))
        p.start()
        print(f"Started {label} ({p.pid}).")
        recode.append(p)
    for p in recode:  # 等待进程结束
        p.join()
        p.check_error()  # raises the child's error, if it had one
        if p.exitcode != 0:  # a crash (killed by a signal) has no error to raise
            sys.exit(f"{p.name} (pid {p.pid}) exited with {p.exitcode}")
