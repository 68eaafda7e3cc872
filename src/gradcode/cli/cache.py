"""`gradcode cache info|clear`: the prepared-data cache ($GRADCODE_CACHE, capped by
$GRADCODE_CACHE_MAX_MB)."""

from __future__ import annotations

import argparse
import json

from ..data import cache

MB = 2**20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="the prepared-data cache: its size, or clear it")
    cache_sub = p.add_subparsers(dest="cache_command", required=True)
    info = cache_sub.add_parser("info", help="folder, entries, size and cap")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=run_info)
    clear = cache_sub.add_parser("clear", help="delete every cached data set")
    clear.set_defaults(run=run_clear)


def run_info(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    c = cache.info()
    report = {
        "folder": str(c.folder),
        "entries": len(c.entries),
        "size_mb": round(c.bytes / MB, 3),
        "max_mb": round(c.max_bytes / MB, 3),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:<8} {value}")
    return 0


def run_clear(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    c = cache.clear()
    print(f"removed {len(c.entries)} entries ({c.bytes / MB:.1f} MB) from {c.folder}")
    return 0
