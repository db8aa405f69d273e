"""``python -m tonearm.cli``: the same as the ``tonearm`` command."""

from tonearm.cli import main

main()
