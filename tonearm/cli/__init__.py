"""The ``tonearm`` command line, one module per command group.

* :mod:`~tonearm.cli.common`: option types, error handling, opening a library;
* :mod:`~tonearm.cli.render`: Rich tables and progress (also used by ``tonearm demo``);
* :mod:`~tonearm.cli.library` (index, tracks, info, duplicates, stats), :mod:`~tonearm.cli.queries`
  (similar, hum, search), :mod:`~tonearm.cli.recommend` (radio, path, playlist, for-you, history),
  :mod:`~tonearm.cli.fetch` (add, feed), :mod:`~tonearm.cli.serve`, :mod:`~tonearm.cli.storage`
  (store), :mod:`~tonearm.cli.tools` (demo, eval);
* :mod:`~tonearm.cli.app`: the Typer app that registers them.

Importing this package is cheap: the app (and every command module) loads only in ``main``.
"""


def main() -> None:
    """Console-script entry point (``tonearm``)."""
    import sys

    from tonearm.config import limit_malloc_arenas, repair_tmpdir

    limit_malloc_arenas()  # before the engines start their threads (its docstring says why)
    warning = repair_tmpdir()
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    from tonearm.cli.app import run

    run()
