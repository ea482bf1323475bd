"""``python -m syncline`` runs the CLI."""

from syncline.cli.main import main

main()
