"""``python -m flows.cli``: the same as the ``regionwatch`` console script."""

from flows.cli import main

main()
