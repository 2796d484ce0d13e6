#!/usr/bin/python3
"""scripts/check_includes.py — dependencies point one way: every `#include "module/..."` in src/ must
point at the including file's own module or at a module on a lower layer of LAYERS.

    scripts/check_includes.py [--root DIR]   check DIR/src (default: this repository); exit 1 on a violation
    scripts/check_includes.py --self-test    check the checker on a made-up tree with known bad edges

Each violation is printed as `path:line: from -> to ("header"): why`. Standard library only, so that
/usr/bin/python3 runs it on a fresh Debian (CTest: include_order, include_order_self_test).
"""

import argparse
import pathlib
import re
import sys
import tempfile

# The one statement of the order, lowest layer first. A module may include its own headers and those
# of every module on a line above its own; a module on the same line (sideways) or below (up) is
# refused. `main` is src/main.cpp. A directory of src/ that is missing here is refused too, so a new
# module has to be placed before it can be used.
LAYERS = """
core
store net mime
route service
smtp pop3 imap
relay fetch
server
main
"""

SOURCE_SUFFIXES = {".cpp", ".hpp", ".h", ".cc"}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def parse_layers(text):
    """parse_layers - module name -> layer number (0 = lowest) from the LAYERS table."""
    rank = {}
    for number, line in enumerate(l for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")):
        for module in line.split():
            if module in rank:
                raise ValueError(f"layer table: {module} appears twice")
            rank[module] = number
    return rank


def module_of(src, path):
    """module_of - the module a file of src/ belongs to: its first directory, or `main` for main.cpp."""
    rel = path.relative_to(src)
    if len(rel.parts) == 1:
        return rel.stem
    return rel.parts[0]


def check(src, rank):
    """check - the violations in the tree src, as (path, line, message) tuples, in file order."""
    below = {}
    for module, r in rank.items():
        below[module] = sorted((m for m, s in rank.items() if s < r), key=lambda m: (rank[m], m))
    problems = []
    for path in sorted(p for p in src.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file()):
        own = module_of(src, path)
        shown = path.relative_to(src.parent)
        if own not in rank:
            problems.append((shown, 0, f"module {own} is not in the layer table (scripts/check_includes.py LAYERS)"))
            continue
        for number, text in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            m = INCLUDE.match(text)
            if not m:
                continue
            header = m.group(1)
            target = header.split("/", 1)[0] if "/" in header else None
            if target is None or target not in rank:
                problems.append((shown, number, f'{own} -> ? ("{header}"): not a header of a module in the layer table'))
                continue
            if target == own or rank[target] < rank[own]:
                continue
            direction = "sideways" if rank[target] == rank[own] else "up"
            allowed = ", ".join(below[own]) or "nothing outside itself"
            problems.append((shown, number,
                             f'{own} -> {target} ("{header}"): points {direction}; {own} may include {allowed}'))
    return problems


def self_test():
    """self_test - the checker must pass a clean tree and name every bad edge of a dirty one."""
    rank = parse_layers(LAYERS)
    files = {
        # allowed: own module, lower layers, main on top
        "core/a.hpp": '#include "core/b.hpp"\n',
        "core/b.hpp": "",
        "net/n.cpp": '#include "core/a.hpp"\n#include <vector>\n',
        "smtp/s.cpp": '#include "route/r.hpp"\n  #  include "store/x.hpp"\n',
        "main.cpp": '#include "server/d.hpp"\n',
        # refused: each line names its expected violation
        "route/r.cpp": '// the PR 10 bug\n#include "smtp/reply.hpp"\n',          # up
        "net/tls.cpp": '#include "store/durable.hpp"\n',                          # sideways
        "pop3/p.cpp": '#include "smtp/s.hpp"\n',                                  # sideways between protocols
        "core/c.cpp": '#include "main.hpp"\n',                                    # not a module's header
        "odmr/o.cpp": '#include "core/a.hpp"\n',                                  # module not in the table
    }
    want = {
        ("src/route/r.cpp", 2, "route -> smtp", "up"),
        ("src/net/tls.cpp", 1, "net -> store", "sideways"),
        ("src/pop3/p.cpp", 1, "pop3 -> smtp", "sideways"),
        ("src/core/c.cpp", 1, "core -> ?", "not a header"),
        ("src/odmr/o.cpp", 0, "module odmr", "not in the layer table"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "src"
        for name, text in files.items():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_text(text)
        got = check(src, rank)
    failures = []
    for path, line, edge, why in want:
        if not any(str(p) == path and n == line and edge in msg and why in msg for p, n, msg in got):
            failures.append(f"not reported: {path}:{line}: {edge} ({why})")
    if len(got) != len(want):
        failures.append(f"{len(got)} violations reported, {len(want)} expected: {got}")
    try:
        parse_layers("core\nnet core\n")
        failures.append("a module listed twice was accepted")
    except ValueError:
        pass
    for f in failures:
        print(f"check_includes self-test: {f}", file=sys.stderr)
    if not failures:
        print(f"check_includes self-test: ok ({len(want)} bad edges found, none invented)")
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parent.parent)
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    src = args.root / "src"
    if not src.is_dir():
        print(f"check_includes: {src}: no such directory", file=sys.stderr)
        return 2
    problems = check(src, parse_layers(LAYERS))
    for path, line, message in problems:
        print(f"{path}:{line}: {message}", file=sys.stderr)
    if problems:
        print(f"check_includes: {len(problems)} include(s) against the order (scripts/check_includes.py LAYERS)",
              file=sys.stderr)
        return 1
    print("check_includes: every include points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
