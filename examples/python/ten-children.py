#!/usr/bin/python3
# ten-children.py: mirrors seed 000's second example (多个子进程只需要for循环):
# start ten children in a loop, keep them in a list, join them all.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 ten-children.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


# 子进程要执行的代码
@Mp.task
def run_proc(name):
    print("Run child process %s (%s)..." % (name, os.getpid()))


Mp.init()


def main():
    print("Parent process %s." % os.getpid())

    process_list = []
    for i in range(10):
        p = Mp.Process(target=run_proc, args=("test",))
        print(f"{i}th Child process will start.")
        p.start()  # 进程开始
        process_list.append(p)

    failed = False
    for p in process_list:
        p.join()  # 等待进程结束
        if p.exitcode != 0:
            print(f"{p.name} exited with {p.exitcode}", file=sys.stderr)
            failed = True

    print("Done.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
