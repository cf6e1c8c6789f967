#!/usr/bin/python3
# pipe-duplex.py: mirrors seed 003 §9.7 "全双工通信": Pipe() is duplex by
# default, so the parent and its child both send and receive on their end.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 pipe-duplex.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


@Mp.task
def run(p_a):
    recv = p_a.recv()  # 子进程接收主进程发的数据
    print("Child received:", recv)
    print("Child sends:", ["a", "b", "c", "d"])
    p_a.send(["a", "b", "c", "d"])  # 子进程给主进程发数据


Mp.init()  # tasks first, then Mp.init()

if __name__ == "__main__":
    p_a, p_b = Mp.pipe()  # 创建管道, 默认为全双工
    p = Mp.Process(target=run, args=(p_a,))
    p.start()
    print("Parent sends:", [1, 2, 3, 4, 5], flush=True)  # flushed: the child prints next
    p_b.send([1, 2, 3, 4, 5])  # 主进程向子进程发数据
    p.join()
    p.check_error()  # raises the child's error, if it had one
    recv = p_b.recv()  # 主进程接收子进程的数据
    print("Parent received:", recv)
    print("Parent ends")  # 主进程结束
