"""What the learner sees: one module per concept holds its plotly figures and its widgets (common.py: shared pieces)."""
