#!/usr/bin/python3
# pipe-half-duplex.py: mirrors seed 003 §9.7 "半双工通信": with
# Pipe(duplex=False) the first end, p_a, only receives and the second, p_b,
# only sends. The child receives on p_a what the parent sends on p_b.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 pipe-half-duplex.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


@Mp.task
def run(p_a):
    recv = p_a.recv()  # 子进程接收主进程发的数据
    print("Child received (p_a):", recv)


Mp.init()  # tasks first, then Mp.init()

if __name__ == "__main__":
    p_a, p_b = Mp.pipe(duplex=False)  # p_a 只能收, p_b 只能发
    p = Mp.Process(target=run, args=(p_a,))
    p.start()
    print("Parent sends (p_b):", [1, 2, 3, 4, 5], flush=True)  # flushed: the child prints next
    p_b.send([1, 2, 3, 4, 5])  # 主进程向子进程发数据
    p.join()
    p.check_error()  # raises the child's error, if it had one
    print("Parent ends")  # 主进程结束
