"""Figures for near-orthogonal directions: angle histograms, the bounds beside measured packings, counts vs d."""

from __future__ import annotations

import functools
import math

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from explainer import geometry as g
from explainer.figures.common import Explorer, base_layout, nearest, row
from explainer.figures.kit import Control, plot, text
from explainer.figures.table import Table
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR


def histogram_name(name: str, stats: g.AngleStats) -> str:
    """A histogram's legend: its worst pair, and its share of pairs in the band, which the page writes for the band
    it shows ({share})."""
    return f"{name}: max |cos| {stats.max_abs_cos:.3f}, {{share}} of pairs in band"


EXPLORER_DIMENSIONS = (2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000)  # the dimension slider's values
TOLERANCES = tuple(0.5 * i for i in range(1, 61))  # the tolerance slider's values: 0.5° to 30°
ANGLES = np.linspace(0.5, 179.5, 359)  # where the exact density is drawn
EXPLORER_BINS = 360  # half-degree bins: a band of 90° ± any tolerance above holds whole bins, so its share is exact


def bounds_facts(n: int, d: int) -> str:
    """The lowest worst |cos| the bounds allow N vectors in d dimensions (HTML)."""
    levenshtein = g.levenshtein_bound(n, d)
    return (f"Bounds for N = {n}: no arrangement has max |cos| below <b>{g.lower_bound(n, d):.4f}</b> "
            f"(Welch {g.welch_bound(n, d):.4f}" + (f", Levenshtein {levenshtein:.4f}" if levenshtein else "") + ").")


@functools.cache
def band_facts(d: int, tolerance_degrees: float) -> str:
    """What the band 90° ± tolerance means, what the bounds allow in it in d dimensions, and how likely a random pair
    is in it (HTML; the same for every N: computed once)."""
    eps = g.cos_from_degrees(tolerance_degrees)
    allowed = g.max_vectors(eps, d)
    count = (f"the bounds no longer limit how many vectors can have every pair in the band in {d} dimensions "
             f"(they stop at |cos| = √(3/(d + 2)) = {g.bounds_stop_limiting(d):.3f})" if allowed == math.inf
             else f"at most <b>{allowed:,}</b> vectors can have every pair in the band in {d} dimensions")
    return (f"Every pair within 90° ± {tolerance_degrees:g}° means |cos| ≤ {eps:.4f}. By the bounds, {count}; a random "
            f"pair is in the band with probability {g.random_pair_within(eps, d):.1%}.")


class NearOrthogonalExplorer(Explorer):
    """The angle histogram of N random (and, on request, optimised) unit vectors: the dimension and the tolerance are
    chosen in the page among the histograms of every dimension on the slider, sent once (a kit Plot); a new N draws new
    vectors and optimising runs in the kernel."""

    def __init__(self, d: int = 100, n: int = 500, tolerance_degrees: float = 2.0, optimise_steps: int = 150):
        super().__init__()
        self.optimise_steps = optimise_steps
        self.n = widgets.IntSlider(value=n, min=10, max=2000, step=10, description="vectors N",
                                   style={"description_width": "initial"}, continuous_update=False)
        self.button = widgets.Button(description="optimise these vectors", icon="compress", layout=widgets.Layout(width="auto"))
        self.directions = g.RandomDirections(list(EXPLORER_DIMENSIONS), seed=0)  # kept: a new N computes only what is new
        self.random = self.optimised = None  # AngleStats per dimension; (d, AngleStats) of the optimised vectors
        self.controls = [Control("d", [f"{d:,}" for d in EXPLORER_DIMENSIONS], "dimension d", slider=True),
                         Control("tolerance", [f"{t:g}°" for t in TOLERANCES], "90° ±", slider=True)]
        self.view = plot.Plot(self.layers(), self.controls, **self.frame(), d=nearest(np.log(EXPLORER_DIMENSIONS), math.log(d)),
                              tolerance=nearest(TOLERANCES, tolerance_degrees))
        self.watch([self.n], self.draw)
        self.on_click(self.button, self.optimise)
        self.widget = widgets.VBox([row(self.n, self.button), self.status, self.view])

    @property
    def dimension(self) -> int:
        """The dimension the page shows."""
        return EXPLORER_DIMENSIONS[self.view.choice["d"]]

    @property
    def tolerance_degrees(self) -> float:
        return TOLERANCES[self.view.choice["tolerance"]]

    def draw(self) -> None:
        """New vectors (a new N): every dimension's histogram afresh, the optimised one gone."""
        self.random = self.optimised = None
        self.view.show(self.layers(), self.controls, **self.frame())

    def optimise(self) -> None:
        """Push the vectors of the dimension shown apart; their histogram joins the random one's for that dimension."""
        d = self.dimension
        result = g.spread_vectors(self.n.value, d, steps=self.optimise_steps, device="cpu", progress=False,
                                  start=self.directions.vectors(self.n.value, d))
        self.optimised = (d, g.angle_stats(result.vectors, bins=EXPLORER_BINS))
        self.view.show(self.layers(), self.controls, **self.frame())

    def layers(self) -> list:
        """The facts, the band, the histograms (random, and optimised for the dimension it was run in) and the exact
        density of random vectors' angles, for every dimension and tolerance."""
        n = self.n.value
        if self.random is None:
            found = self.directions.stats(n, bins=EXPLORER_BINS)
            self.random = [found[d] for d in EXPLORER_DIMENSIONS]
        edges = self.random[0].bin_edges
        shares = np.full((len(EXPLORER_DIMENSIONS), 2, EXPLORER_BINS), np.nan)  # [d, random | optimised, bin]
        names = []
        for i, (d, stats) in enumerate(zip(EXPLORER_DIMENSIONS, self.random)):
            shares[i, 0] = stats.histogram / stats.histogram.sum()
            optimised = self.optimised[1] if self.optimised and self.optimised[0] == d else None
            if optimised is not None:
                shares[i, 1] = optimised.histogram / optimised.histogram.sum()
            names.append([histogram_name("random", stats), histogram_name("optimised", optimised) if optimised else ""])
        density = np.array([[g.angle_density(ANGLES, d) * (edges[1] - edges[0])] for d in EXPLORER_DIMENSIONS])
        self.highest = np.fmax(np.nanmax(shares, axis=(1, 2)), density.max(axis=(1, 2)))  # per dimension: frame()'s y axis
        return [text([[band_facts(d, t) for t in TOLERANCES] for d in EXPLORER_DIMENSIONS], over=("d", "tolerance")),
                text([bounds_facts(n, d) for d in EXPLORER_DIMENSIONS], over=("d",)),
                  plot.band([90 - t for t in TOLERANCES], [90 + t for t in TOLERANCES], over=("tolerance",)),
                  plot.steps(edges, shares, names, over=("d",), colours=[BAR_COLOR, HIGHLIGHT_COLOR], x_name="angle"),
                  plot.lines(ANGLES, density, names=["random vectors, exact density"], over=("d",), colours=["#111827"],
                             dashed=True, x_name="angle")]

    def frame(self) -> dict:
        """The axes, a title per dimension, and the y axis fitted to each dimension's tallest histogram (layers first)."""
        return dict(x_title="angle between a pair (degrees)", y_title="share of pairs", x_range=(0, 180),
                    titles=[f"{self.n.value} unit vectors in {d:,} dimensions" for d in EXPLORER_DIMENSIONS], title_over=("d",),
                    y_highs=(1.08 * self.highest).tolist(), y_over=("d",))


def spread_table(dimensions: list[int], tolerance_cos: float, n: int = 400) -> Table:
    """The measured spread of random angles against 57.3°/√d, and the exact share of random pairs in the band."""
    return Table.from_rows([{"d": d, "std of angle, measured (°)": g.angle_stats(g.random_unit_vectors(n, d, seed=1)).std_angle,
                             "57.3°/√d": math.degrees(1 / math.sqrt(d)),
                             "share of random pairs in band": g.random_pair_within(tolerance_cos, d)} for d in dimensions],
                           formats={"std of angle, measured (°)": "{:.2f}", "57.3°/√d": "{:.2f}",
                                    "share of random pairs in band": "{:.2%}"})


def packing_figure(measurements: list[g.PackingMeasurement], tolerance_cos: float) -> go.Figure:
    """The bounds on the worst |cos| among N vectors in d dimensions, beside what random vectors and our optimiser reach."""
    d = measurements[0].d
    sizes = np.unique(np.geomspace(d + 1, 100_000, 60).astype(int))
    threshold = d * (d + 1) // 2
    optimised = [m.optimised for m in measurements]
    figure = go.Figure([
        go.Scatter(x=sizes, y=[g.welch_bound(int(n), d) for n in sizes], name="Welch bound", line=dict(dash="dot")),
        go.Scatter(x=sizes, y=[g.levenshtein_bound(int(n), d) for n in sizes], name=f"Levenshtein bound (N > {threshold:,})"),
        go.Scatter(x=[m.n for m in measurements], y=optimised, mode="markers+lines", marker=dict(size=9),
                   name=f"our optimiser ({measurements[0].steps} steps)"),
        go.Scatter(x=[m.n for m in measurements], y=[m.random for m in measurements], name="random vectors",
                   mode="markers+lines", marker=dict(size=9)),
    ])
    figure.add_hline(y=tolerance_cos, line_dash="dash", annotation_text=f"|cos| = {tolerance_cos:.3f}")
    return base_layout(figure, f"the worst |cos| among N vectors in {d} dimensions: the bounds, random vectors, our optimiser", height=450,
                       xaxis_type="log", xaxis_title="N vectors", yaxis_title="max |cos| over all pairs",
                       legend=dict(orientation="h", y=-0.2))


def counts_table(tolerances_degrees: list[float], dimensions: list[int]) -> Table:
    """For each tolerance and dimension: what the bounds allow for every pair, and what random vectors manage."""
    rows = []
    for degrees in tolerances_degrees:
        eps = g.cos_from_degrees(degrees)
        rows += [{"tolerance": f"90° ± {degrees:g}°", "d": int(d), "bounds allow (every pair)": g.max_vectors(eps, int(d)),
                  "random, every pair (p ≥ ½)": g.random_vectors_all_within(eps, int(d)),
                  "random pair in band": g.random_pair_within(eps, int(d))} for d in dimensions]
    return Table.from_rows(rows, formats={"bounds allow (every pair)": bound_count, "random, every pair (p ≥ ½)": "{:,.3g}",
                                          "random pair in band": "{:.2%}"})


def bound_count(n: float) -> str:
    return f"{n:,}" if math.isfinite(n) else "bounds stop binding"


def counts_figure(counts: Table) -> go.Figure:
    """How many vectors keep every pair in the band as d grows: the bounds, and random vectors (p ≥ ½)."""
    figure = go.Figure()
    for tolerance in dict.fromkeys(counts["tolerance"]):
        group = counts.rows_where("tolerance", [tolerance])
        limited = [(d, n) for d, n in zip(group["d"], group["bounds allow (every pair)"]) if math.isfinite(n)]
        figure.add_trace(go.Scatter(x=[d for d, _ in limited], y=[n for _, n in limited], name=f"{tolerance}: bounds allow"))
        figure.add_trace(go.Scatter(x=group["d"], y=group["random, every pair (p ≥ ½)"], name=f"{tolerance}: random vectors",
                                    line=dict(dash="dot")))
    return base_layout(figure, "how many vectors keep EVERY pair in the band", height=480, xaxis_type="log",
                       yaxis_type="log", yaxis_title="number of vectors", legend=dict(orientation="h", y=-0.2),
                       xaxis_title="dimension d (a solid line stops where its bound no longer limits the count)")


def packing_findings(measurements: list[g.PackingMeasurement], tolerance_cos: float) -> str:
    """What the packing figure shows, in words with the computed numbers (Markdown)."""
    d = measurements[0].d
    first_excluded = int(g.max_vectors(tolerance_cos, d)) + 1
    largest = measurements[-1]
    big = 10_000
    return (f"Reading it: the bounds cross |cos| = {tolerance_cos:.3f} at N = {first_excluded - 1:,}: no arrangement at "
            f"all of {first_excluded:,} vectors in {d} dimensions keeps every pair in the band. Our optimiser gets within "
            f"{largest.optimised / largest.bound:.2f}× of the bound at N = {largest.n:,} ({largest.optimised:.3f} against "
            f"{largest.bound:.3f}), where random vectors reach {largest.random:.3f}. At N = {big:,} the Levenshtein bound says "
            f"some pair has |cos| ≥ {g.lower_bound(big, d):.3f}: it is at least {g.degrees_from_cos(g.lower_bound(big, d)):.1f}° "
            f"away from perpendicular.")


def wide_space_findings(d: int, tolerance_degrees: float) -> str:
    """Random directions in a d-dimensional space against the every-pair bound (Markdown)."""
    eps = g.cos_from_degrees(tolerance_degrees)
    allowed = g.max_vectors(eps, d)
    limit = g.bounds_stop_limiting(d)
    bounds = (f"The bounds no longer limit how many vectors can have *every* pair in the band: they stop at |cos| = "
              f"√(3/(d + 2)) = {limit:.4f}, below {eps:.4f}" if allowed == float("inf") else
              f"The bounds allow at most **{allowed:,}** vectors with *every* pair in the band")
    return (f"In {d:,} dimensions a random pair is within 90° ± {tolerance_degrees:g}° with probability "
            f"**{g.random_pair_within(eps, d):.4%}**. {bounds}. Random vectors "
            f"keep every pair in the band (with probability ≥ ½) for about **{g.random_vectors_all_within(eps, d):,}** "
            f"vectors, and within 90° ± 5° for about **{g.random_vectors_all_within(g.cos_from_degrees(5), d):.2g}**.")
