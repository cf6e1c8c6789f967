#!/usr/bin/python3
# queue-maxsize.py: mirrors seed 003 §9.7 "队列(Queue)": a queue of at most 3
# items, 5 processes that each put "pid time" into it and 5 that each get
# one item and print it. Two producers wait in put() until a consumer has
# made room.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 queue-maxsize.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import time

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


@Mp.task
def put_data(queue):
    data = str(os.getpid()) + " " + str(time.time())  # 拼接数据
    print(f"Put data: {data}")  # 压入数据
    queue.put(data)


@Mp.task
def get_data(queue):
    data = queue.get()
    print(f"Got data: {data}")  # 读取数据


Mp.init()  # tasks first, then Mp.init()

if __name__ == "__main__":
    q = Mp.Queue(3)  # 创建队列

    record1 = []
    for i in range(5):  # 创建5个进程用于写数据
        p = Mp.Process(target=put_data, args=(q,))
        p.start()
        record1.append(p)

    record2 = []
    for i in range(5):  # 创建5个进程用于读数据
        p = Mp.Process(target=get_data, args=(q,))
        p.start()
        record2.append(p)

    for p in record1 + record2:
        p.join()
        p.check_error()  # raises the child's error, if it had one
