"""What the learner sees: one module per concept holds its plotly figures and its widgets (common.py: shared pieces;
live.py: plotly's browser code, once per page, for live and plain figures alike).

Importing plotly's widgets imports nbformat, which imports jsonschema, which imports rfc3987_syntax if it is
installed (Jupyter's event schemas pull it in) only to check IRI formats; building its grammar takes seconds in a
kernel. Nothing here validates IRIs, so it is marked as absent (jsonschema then skips that one format check).
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)

from explainer.figures import live  # noqa: E402  (after the line above) sets the notebook's figure renderer
