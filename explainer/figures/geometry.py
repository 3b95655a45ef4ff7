"""Figures for near-orthogonal directions: angle histograms, the bounds beside measured packings, counts vs d."""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from explainer import geometry as g
from explainer.figures.common import Explorer, base_layout, float_slider, redraw, row
from explainer.figures.live import FigureWidget
from explainer.figures.table import Table
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, POSITIVE_COLOR


def histogram_name(name: str, stats: g.AngleStats) -> str:
    return f"{name}: max |cos| {stats.max_abs_cos:.3f}, {stats.fraction_within:.1%} of pairs in band"


def angle_histogram(stats_by_name: dict[str, g.AngleStats], tolerance_degrees: float, density=None, title: str = "") -> go.Figure:
    """Histograms (as shares of pairs) of pairwise angles, with the 90° ± tolerance band shaded. Each histogram is one
    filled step line rather than a bar per bin: the browser redraws one shape instead of 180 when a slider moves."""
    figure = go.Figure()
    for (name, stats), color in zip(stats_by_name.items(), [BAR_COLOR, HIGHLIGHT_COLOR, POSITIVE_COLOR]):
        edges = stats.bin_edges
        bins = [f"{low:g}°–{high:g}°" for low, high in zip(edges[:-1], edges[1:])]
        figure.add_trace(go.Scatter(x=edges, y=histogram_steps(stats), name=histogram_name(name, stats), mode="lines",
                                    line=dict(color=color, width=1, shape="hv"), fill="tozeroy", opacity=0.65,
                                    text=bins + bins[-1:], hovertemplate="%{text}: %{y:.2%} of pairs"))
    if density is not None:
        figure.add_trace(go.Scatter(x=density[0], y=density[1], name="random vectors, exact density", mode="lines",
                                    line=dict(color="black", dash="dot")))
    figure.add_vrect(x0=90 - tolerance_degrees, x1=90 + tolerance_degrees, fillcolor=POSITIVE_COLOR, opacity=0.15, line_width=0)
    return base_layout(figure, title, xaxis_title="angle between a pair (degrees)", yaxis_title="share of pairs",
                       legend=dict(orientation="h", y=-0.25))


def histogram_steps(stats: g.AngleStats) -> np.ndarray:
    """A histogram's shares of pairs as the heights of a step line through its bin edges (the last bin's height twice)."""
    share = stats.histogram / stats.histogram.sum()
    return np.append(share, share[-1])


class NearOrthogonalExplorer(Explorer):
    """Dimension, number of vectors and tolerance sliders over the angle histogram of random and optimised vectors."""

    def __init__(self, d: int = 100, n: int = 500, tolerance_degrees: float = 2.0, optimise_steps: int = 150):
        super().__init__()
        self.optimise_steps = optimise_steps
        style = {"description_width": "initial"}
        self.d = widgets.FloatLogSlider(value=d, base=10, min=math.log10(2), max=4, step=0.05, description="dimension d",
                                        readout_format=".0f", style=style, continuous_update=False)
        self.n = widgets.IntSlider(value=n, min=10, max=2000, step=10, description="vectors N", style=style,
                                   continuous_update=False)
        self.tolerance = float_slider("90° ± (degrees)", tolerance_degrees, 0.5, 30, 0.5)
        self.tolerance.continuous_update = False
        self.button = widgets.Button(description="optimise these vectors", icon="compress", layout=widgets.Layout(width="auto"))
        self.facts = widgets.HTML()
        self.figure = FigureWidget()
        self.optimised = None
        self.watch([self.d, self.n, self.tolerance], lambda: self.update(forget=True))
        self.on_click(self.button, self.optimise)
        self.widget = widgets.VBox([row(self.d, self.n), row(self.tolerance, self.button), self.status, self.facts, self.figure])
        self.safely(lambda: self.update(forget=True))

    def dimension(self) -> int:
        return max(2, int(round(self.d.value)))

    def optimise(self) -> None:
        self.facts.value += "<br><i>optimising…</i>"
        result = g.spread_vectors(self.n.value, self.dimension(), steps=self.optimise_steps, device="cpu", progress=False)
        self.optimised = result.vectors
        self.update(forget=False)

    def update(self, forget: bool) -> None:
        d, n = self.dimension(), self.n.value
        if forget:
            self.optimised = None
        eps = g.cos_from_degrees(self.tolerance.value)
        stats = {"random": g.angle_stats(g.random_unit_vectors(n, d, seed=0), eps)}
        if self.optimised is not None:
            stats["optimised"] = g.angle_stats(self.optimised, eps)
        angles = np.linspace(0.5, 179.5, 359)
        density = (angles, g.angle_density(angles, d) * (stats["random"].bin_edges[1] - stats["random"].bin_edges[0]))
        title = f"{n} unit vectors in {d} dimensions"
        if len(self.figure.data) != len(stats) + 1:  # the optimised histogram came or went: draw afresh
            redraw(self.figure, angle_histogram(stats, self.tolerance.value, density, title))
        else:  # same traces: only their heights, their names, the band and the title travel
            with self.figure.batch_update():
                for trace, (name, found) in zip(self.figure.data, stats.items()):
                    trace.update(y=histogram_steps(found), name=histogram_name(name, found))
                self.figure.data[-1].y = density[1]
                band = self.tolerance.value
                self.figure.layout.shapes[0].update(x0=90 - band, x1=90 + band)
                self.figure.layout.title.text = title
        allowed = g.max_vectors(eps, d)
        levenshtein = g.levenshtein_bound(n, d)
        count = (f"the bounds no longer limit how many vectors can have every pair in the band in {d} dimensions "
                 f"(they stop at |cos| = √(3/(d + 2)) = {g.bounds_stop_limiting(d):.3f})" if allowed == math.inf
                 else f"at most <b>{allowed:,}</b> vectors can have every pair in the band in {d} dimensions")
        self.facts.value = (
            f"every pair within 90° ± {self.tolerance.value}° means |cos| ≤ {eps:.4f}. "
            f"Bounds for N = {n}: no arrangement has max |cos| below <b>{g.lower_bound(n, d):.4f}</b> "
            f"(Welch {g.welch_bound(n, d):.4f}" + (f", Levenshtein {levenshtein:.4f}" if levenshtein else "") + "). "
            f"By the bounds, {count}; a random pair is in the band with probability {g.random_pair_within(eps, d):.1%}."
        )


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
