"""What the learner sees: one module per concept holds its explorers (drawn by the figure kit, kit/) and its static
plotly figures; common.py: the pieces they share.

Importing plotly imports nbformat, which imports jsonschema, which imports rfc3987_syntax if it is installed
(Jupyter's event schemas pull it in) only to check IRI formats; building its grammar takes seconds in a kernel. Nothing
here validates IRIs, so it is marked as absent (jsonschema then skips that one format check).

In a notebook's kernel, torch runs on one thread: the browser draws on the same cores, and a second thread makes each
of the small model's operations wait for a core the page holds (a generated token took 26 ms with two threads against
6 ms with one while one core was busy; Run All of 01, 03, 05 and 12 about a second faster each). OMP_NUM_THREADS, if
set, decides instead. It is set here rather than torch told, so that a notebook without the model (04) never loads
torch (about 2 s); the kernel's subprocesses (a chapter's video) inherit it.
"""

import os
import sys

sys.modules.setdefault("rfc3987_syntax", None)


def in_kernel() -> bool:
    """Whether this Python is a notebook's kernel."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return getattr(shell, "kernel", None) is not None


if in_kernel() and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = "1"  # torch reads it when it starts its threads
    if "torch" in sys.modules:  # started already
        sys.modules["torch"].set_num_threads(1)
