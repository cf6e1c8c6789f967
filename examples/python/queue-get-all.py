#!/usr/bin/python3
# queue-get-all.py: mirrors seed 001 "4.进程之间的数据交互": two processes put
# a name each into a queue; once both are joined, the parent takes
# everything out (the seed's get_all() hook) and prints the list. Which
# name comes first is up to the scheduler.
#
# The seed stops when queue.empty() says so. Across processes qsize() and
# empty() are only approximate (a put or get under way in another process
# is not counted yet); here they would be exact, the producers being
# joined, but the reliable way is to get_nowait() until queue.Empty.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 queue-get-all.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import queue

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


# 简单的小钩子,用于快速将数据做成一个列表返回。
def get_all(q):
    li = []
    while True:
        try:
            li.append(q.get_nowait())
        except queue.Empty:
            return li


@Mp.task
def run(q, name):
    q.put(name)


Mp.init()  # tasks first, then Mp.init()

if __name__ == "__main__":
    q = Mp.Queue()
    process1 = Mp.Process(target=run, args=(q, "XeanYu"))
    process2 = Mp.Process(target=run, args=(q, "XY"))
    process1.start()
    process2.start()

    for p in (process1, process2):
        p.join()
        p.check_error()  # raises the child's error, if it had one

    li = get_all(q)
    print(li)
