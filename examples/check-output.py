#!/usr/bin/python3
"""check-output.py: runs an example and checks what it printed.

    check-output.py [CHECK...] -- COMMAND [ARG...]

COMMAND runs with its standard output and error on pipes and without
PYTHONUNBUFFERED (so buffering bugs show, as for a user who redirects
the output to a file) and must exit with status 0 (or --exit N). Its standard error
must be empty unless --allow-stderr. Then each CHECK must hold; they are
tried in the order given. A regular expression is searched in each line.

  --has RE          some line matches RE
  --line RE         some line after the one the previous --line matched
                    matches RE (so --line checks order)
  --last RE         the last line matches RE
  --count N RE      exactly N lines match RE
  --distinct RE     the values of RE's group 1, over all lines that
                    match, are all different
  --same RE1 RE2    the values of RE1's group 1 over all lines that match
                    are those of RE2's group 1, as many times each, in
                    any order
  --differ A B      the variables A and B (see below) differ
  --stderr RE       some line of standard error matches RE
  --exit N          the expected exit status
  --allow-stderr    do not require an empty standard error
  --timeout S       seconds before the command is killed (default 60)
  --env NAME=VALUE  set NAME to VALUE in the command's environment
                    (may be given more than once)

A named group (?P<x>...) in a --has, --line or --last pattern is a
variable: the first match binds it, and every later match of a pattern
that names x must give it the same value (a line whose value differs is
skipped). So '--has "^Parent (?P<parent>\\d+)"' and '--has "my parent is
(?P<parent>\\d+)"' check that both lines print the same pid.
"""

import os
import re
import subprocess
import sys


def usage(message):
    print(f"check-output.py: {message}", file=sys.stderr)
    print(__doc__, file=sys.stderr)
    sys.exit(2)


def parse(argv):
    if "--" not in argv:
        usage("no '--' before the command")
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    if not command:
        usage("no command")

    checks = []
    settings = {"exit": 0, "allow_stderr": False, "timeout": 60.0, "env": {}}
    takes = {"--has": 1, "--line": 1, "--last": 1, "--count": 2, "--distinct": 1,
             "--same": 2, "--differ": 2, "--stderr": 1, "--exit": 1, "--timeout": 1, "--env": 1}
    i = 0
    while i < len(options):
        opt = options[i]
        if opt == "--allow-stderr":
            settings["allow_stderr"] = True
            i += 1
            continue
        if opt not in takes:
            usage(f"unknown option {opt!r}")
        values = options[i + 1 : i + 1 + takes[opt]]
        if len(values) != takes[opt]:
            usage(f"{opt} takes {takes[opt]} value(s)")
        i += 1 + takes[opt]
        if opt == "--exit":
            settings["exit"] = int(values[0])
        elif opt == "--timeout":
            settings["timeout"] = float(values[0])
        elif opt == "--env":
            name, eq, value = values[0].partition("=")
            if not name or not eq:
                usage(f"--env takes NAME=VALUE, not {values[0]!r}")
            settings["env"][name] = value
        elif opt == "--count":
            checks.append((opt, int(values[0]), re.compile(values[1])))
        elif opt == "--differ":
            checks.append((opt, values[0], values[1]))
        elif opt == "--same":
            checks.append((opt, re.compile(values[0]), re.compile(values[1])))
        else:
            checks.append((opt, re.compile(values[0])))
    return checks, settings, command


class Checker:
    def __init__(self, lines, err_lines):
        self.lines = lines
        self.err_lines = err_lines
        self.bindings = {}
        self.last_line = -1   # index of the line the previous --line matched
        self.failures = []

    def consistent(self, match):
        return all(self.bindings.get(k, v) == v for k, v in match.groupdict().items() if v is not None)

    def bind(self, match):
        for k, v in match.groupdict().items():
            if v is not None:
                self.bindings.setdefault(k, v)

    def find(self, pattern, start=0, lines=None):
        lines = self.lines if lines is None else lines
        for n in range(start, len(lines)):
            m = pattern.search(lines[n])
            if m and self.consistent(m):
                return n, m
        return None, None

    def fail(self, text):
        self.failures.append(text)

    def run(self, checks):
        for check in checks:
            kind = check[0]
            if kind == "--has":
                n, m = self.find(check[1])
                if m is None:
                    self.fail(f"no line matches {check[1].pattern!r}{self.context(check[1])}")
                else:
                    self.bind(m)
            elif kind == "--line":
                n, m = self.find(check[1], self.last_line + 1)
                if m is None:
                    where = "after line %d " % (self.last_line + 1) if self.last_line >= 0 else ""
                    self.fail(f"no line {where}matches {check[1].pattern!r}{self.context(check[1])}")
                else:
                    self.bind(m)
                    self.last_line = n
            elif kind == "--last":
                m = check[1].search(self.lines[-1]) if self.lines else None
                if m is None or not self.consistent(m):
                    last = self.lines[-1] if self.lines else "(no output)"
                    self.fail(f"the last line {last!r} does not match {check[1].pattern!r}{self.context(check[1])}")
                else:
                    self.bind(m)
            elif kind == "--count":
                want, pattern = check[1], check[2]
                got = sum(1 for line in self.lines if pattern.search(line))
                if got != want:
                    self.fail(f"{got} lines match {pattern.pattern!r}, expected {want}")
            elif kind == "--distinct":
                values = self.group1(check[1])
                if len(set(values)) != len(values):
                    self.fail(f"the values of {check[1].pattern!r} repeat: {values}")
            elif kind == "--same":
                first, second = (sorted(self.group1(p)) for p in check[1:])
                if first != second:
                    self.fail(f"{check[1].pattern!r} gives {first}, {check[2].pattern!r} {second}")
            elif kind == "--differ":
                a, b = check[1], check[2]
                if a not in self.bindings or b not in self.bindings:
                    self.fail(f"--differ {a} {b}: not both bound ({self.bindings})")
                elif self.bindings[a] == self.bindings[b]:
                    self.fail(f"{a} and {b} are both {self.bindings[a]}")
            elif kind == "--stderr":
                n, m = self.find(check[1], lines=self.err_lines)
                if m is None:
                    self.fail(f"no line of standard error matches {check[1].pattern!r}")
        return not self.failures

    def group1(self, pattern):
        """The values of pattern's group 1, over all lines that match."""
        return [m.group(1) for m in map(pattern.search, self.lines) if m]

    def context(self, pattern):
        names = [k for k in pattern.groupindex if k in self.bindings]
        if not names:
            return ""
        return " with " + ", ".join(f"{k}={self.bindings[k]}" for k in names)


def main():
    checks, settings, command = parse(sys.argv[1:])
    assignments = [f"{k}={v}" for k, v in settings["env"].items()]
    print("running:", " ".join(assignments + command))
    sys.stdout.flush()
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    env.update(settings["env"])
    try:
        proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                              env=env, timeout=settings["timeout"])
    except subprocess.TimeoutExpired as e:
        print(f"FAIL: timed out after {settings['timeout']} s")
        for name, data in (("stdout", e.stdout), ("stderr", e.stderr)):
            if data:
                print(f"--- {name} so far:\n{data.decode(errors='replace')}")
        return 1

    out = proc.stdout.decode("utf-8", errors="replace")
    err = proc.stderr.decode("utf-8", errors="replace")
    print("--- stdout:")
    print(out, end="" if out.endswith("\n") or not out else "\n")
    if err:
        print("--- stderr:")
        print(err, end="" if err.endswith("\n") else "\n")
    print("---")

    failures = []
    if proc.returncode != settings["exit"]:
        failures.append(f"exit status {proc.returncode}, expected {settings['exit']}")
    if err and not settings["allow_stderr"]:
        failures.append("standard error is not empty")
    checker = Checker(out.splitlines(), err.splitlines())
    checker.run(checks)
    failures += checker.failures

    for f in failures:
        print("FAIL:", f)
    if not failures:
        print(f"ok: {len(checks)} checks")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
