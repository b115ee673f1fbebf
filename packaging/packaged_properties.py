#!/usr/bin/env python3
"""The installed server.properties: config/server.properties with the
settings a packaged broker needs set (data under /var/lib/sluice, the HTTP
listener on loopback). Every line it sets must exist, commented, in the
source file, so the documentation stays in one place."""
import sys

SET = {"log.dirs": "/var/lib/sluice", "sluice.http.listen": "127.0.0.1:9644"}
src, out = sys.argv[1], sys.argv[2]
lines, done = [], set()
for line in open(src):
    key = line[1:].split("=", 1)[0].strip() if line.startswith("#") and "=" in line else None
    if key in SET and key not in done:
        lines.append(f"{key}={SET[key]}\n")
        done.add(key)
    else:
        lines.append(line)
missing = set(SET) - done
if missing:
    sys.exit(f"packaged_properties.py: {src} has no commented line for {sorted(missing)}")
open(out, "w").writelines(lines)
