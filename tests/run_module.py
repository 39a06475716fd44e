"""``python -m tests.run_module NAME ARGS_JSON [--check] [--diff]``: a module of ``library/``
run in-process (``tests.helpers.run_module``) in a process of its own, its JSON result on
standard output — for a module that must run elsewhere than the test, e.g. inside a network
namespace (``ip netns exec NS python -m tests.run_module ...``): a Python start instead of an
``ansible`` one."""

from __future__ import annotations

import json
import sys

from tests.helpers import run_module


def main(argv: list[str]) -> int:
    name, args, *flags = argv
    print(json.dumps(run_module(name, json.loads(args), *flags)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
