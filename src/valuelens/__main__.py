"""`python -m valuelens` runs the command line."""

from valuelens.cli import main

main()
