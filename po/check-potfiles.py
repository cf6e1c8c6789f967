#!/usr/bin/env python3
"""Every source file with a translatable message is in POTFILES.in, and
every file listed there exists: a message in a file left out would never
reach the translators."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
listed = {line.strip() for line in (root / "po" / "POTFILES.in").read_text().splitlines()
          if line.strip() and not line.startswith("#")}
marked = {str(p.relative_to(root)) for p in sorted((root / "src").glob("*.c"))
          if re.search(r'\b(N?_|C_|NC_)\s*\(\s*"', p.read_text())}
missing = sorted(marked - listed)
stale = sorted(f for f in listed if not (root / f).exists())
for f in missing:
    print(f"po/POTFILES.in lacks {f}, which has translatable messages")
for f in stale:
    print(f"po/POTFILES.in lists {f}, which does not exist")
sys.exit(1 if missing or stale else 0)
