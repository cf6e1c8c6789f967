#!/usr/bin/python3
# pool-map.py: mirrors seed 002's first example, the data-parallel Pool:
# f(x) = x * x over [1, 2, 3] in a pool of five workers; prints [1, 4, 9].
#
# f is a plain function, as in Python: the pool sends its module and name
# and the worker looks it up, so it is defined before Mp.init() (a spawn
# worker runs this file again up to Mp.init()).
#
#   MP_START_METHOD=fork|spawn|forkserver python3 pool-map.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


def f(x):
    return x * x


Mp.init()  # functions first, then Mp.init()

if __name__ == "__main__":
    with Mp.Pool(5) as p:
        print(p.map(f, [1, 2, 3]))
