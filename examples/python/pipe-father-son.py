#!/usr/bin/python3
# pipe-father-son.py: mirrors seed 001 §5 "进程之间的数据通讯": Father and Son
# run in two children joined by a duplex pipe. The son says 'Hello
# Father', the father answers 'Hi my son!'. (The seed forgot to join them;
# here the main program does.)
#
#   MP_START_METHOD=fork|spawn|forkserver python3 pipe-father-son.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


@Mp.task
def Son(pipe):
    pipe.send("Hello Father")  # 向父亲发送 `Hello Father`
    print("From Father:" + pipe.recv())  # 接收父亲发过来的 `Hi my son!`


@Mp.task
def Father(pipe):
    # 接收儿子发来的 `Hello Father`; flushed before the son can answer
    print("From Son:" + pipe.recv(), flush=True)
    pipe.send("Hi my son!")  # 发送给儿子, 说 `Hi my son!`


Mp.init()  # tasks first, then Mp.init()

if __name__ == "__main__":
    father, son = Mp.pipe()  # 实例化一个父亲和儿子
    f = Mp.Process(target=Father, args=(father,))  # 父亲的进程
    s = Mp.Process(target=Son, args=(son,))  # 儿子的进程
    f.start()
    s.start()
    for p in (f, s):
        p.join()
        p.check_error()  # raises the child's error, if it had one
