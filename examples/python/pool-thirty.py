#!/usr/bin/python3
# pool-thirty.py: mirrors seed 004 "进程池": a pool of 3 processes prints
# the numbers 0 to 29, one apply_async(f, (i,)) each; f prints its number
# and a space, without a newline. After close() and join() all thirty are
# on one line, in the order the workers ran them; the parent ends it and
# prints "Done." (the seed ends there, in its screenshot at the shell
# prompt).
#
# The seed never looks at the results; here the parent gets each one after
# join(): a failure raises and the exit status is 1.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 pool-thirty.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


def f(i):
    # flush: the other workers print on the same line
    print(i, end=" ", flush=True)


def main():
    # 初始化一个 3 个进程的进程池
    pool = Mp.Pool(processes=3)
    results = []
    for i in range(30):
        # 调用 apply 方法开始处理任务，传入任务处理函数 f，和参数 i
        results.append(pool.apply_async(f, (i,)))
    pool.close()
    pool.join()
    print()  # ends the line of numbers
    for r in results:  # the seed does not look; a failure raises here
        r.get()
    print("Done.")


Mp.init()  # functions first, then Mp.init()

if __name__ == "__main__":
    main()
