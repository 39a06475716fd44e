"""``python -m infra.cli``: the ``camops`` command line."""

from infra.cli import main

main()
