"""`gradcode examples [NAME] [--copy DIR]`: the shipped example configurations."""

from __future__ import annotations

import argparse
import json

from .. import examples


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "examples",
        help="list the example configurations, print one, or copy them",
        description="Without NAME: list the examples. With NAME: print it. Any of them runs as "
        "`gradcode compare --config NAME`.",
    )
    p.add_argument("name", nargs="?", help="an example to print (or, with --copy, to copy)")
    p.add_argument("--copy", metavar="DIR", help="copy the examples (or NAME) into DIR")
    p.add_argument("--json", action="store_true", help="list as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    if args.copy is not None:
        for path in examples.copy(args.copy, [args.name] if args.name else None):
            print(path)
    elif args.name is not None:
        print(examples.path(args.name).read_text(), end="")
    elif args.json:
        print(json.dumps([{"name": n, "about": examples.about(n)} for n in examples.names()]))
    else:
        width = max(map(len, examples.names()))
        for name in examples.names():
            print(f"{name:<{width}}  {examples.about(name)}")
    return 0
