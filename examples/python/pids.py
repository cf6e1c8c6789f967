#!/usr/bin/python3
# pids.py: mirrors seed 001 §3 "进程的简单使用": the main process prints its
# parent's PID (os.getppid) and its own (os.getpid), then a child prints
# the same two. The child also prints Mp.parent_pid(): the process that
# started it through libmp. With fork and spawn that is os.getppid(); with
# forkserver os.getppid() is the server, and only Mp.parent_pid() names
# the main process.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 pids.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


@Mp.task
def run():
    print("Child: parent PID (getppid):", os.getppid())  # 父进程的PID
    print("Child: PID (getpid):", os.getpid())  # 当前进程的PID
    print("Child: libmp parent PID (parent_pid):", Mp.parent_pid())


Mp.init()


def main():
    print("Start method:", Mp.get_start_method().value_nick)
    print("Parent PID of the main process:", os.getppid())  # 主进程的父进程PID
    print("PID of the main process:", os.getpid())  # 主进程的PID
    print("_" * 20 + "\n")

    p = Mp.Process(target=run)
    p.start()
    print(f"Started child process {p.pid}.")
    # No join, as in the seed: like Python, libmp waits at exit for the
    # children that are not daemonic.


if __name__ == "__main__":
    main()
