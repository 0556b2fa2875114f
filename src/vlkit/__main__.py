"""`python -m vlkit` is the same as the `vlkit` console script."""

from vlkit.cli import main

main()
