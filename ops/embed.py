#!/usr/bin/env python3
"""Writes console_files.c: the web console's files as C arrays, so the
broker serves them from its own binary (nothing fetched at run time).

    embed.py OUT.c FILE... [--optional FILE...]

A missing --optional file (the vendored uPlot before scripts/setup.sh ran)
is replaced by a one-line script that makes the page say charts are
unavailable, so the build never depends on the network."""
import os
import sys

TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
STUB = {".js": b"window.uPlot = null; /* not vendored: run scripts/setup.sh */\n",
        ".css": b"/* not vendored: run scripts/setup.sh */\n"}


def main(argv):
    out, files, optional = argv[1], [], False
    for a in argv[2:]:
        if a == "--optional":
            optional = True
            continue
        files.append((a, optional))
    lines = ['#include "ops/console_files.h"', "#include <string.h>", ""]
    table = []
    for i, (path, opt) in enumerate(files):
        ext = os.path.splitext(path)[1]
        if os.path.exists(path):
            data = open(path, "rb").read()
        elif opt:
            data = STUB.get(ext, b"")
        else:
            sys.exit(f"embed.py: {path} is missing")
        body = ",".join(str(b) for b in data) or "0"
        lines.append(f"static const unsigned char f{i}[] = {{{body}}};")
        table.append(f'    {{"{os.path.basename(path)}", "{TYPES.get(ext, "application/octet-stream")}", '
                     f"f{i}, {len(data)}}},")
    lines += ["", "static const struct console_file files[] = {"] + table + ["};", "",
              "const struct console_file *console_file_find(const char *name)", "{",
              "    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)",
              "        if (strcmp(files[i].name, name) == 0)",
              "            return &files[i];", "    return NULL;", "}", ""]
    with open(out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv)
