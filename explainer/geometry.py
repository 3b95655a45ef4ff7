"""How many "almost perpendicular" directions fit in d dimensions: random vectors, optimised packings, and bounds.

Two readings of the lecture's quiz ("every pair between 88° and 92°", i.e. |cos| ≤ cos 88° ≈ 0.035):
- *every* pair within ε: limited by the Welch and Levenshtein bounds (in 100-d at most 113 vectors);
- *most* pairs within ε: random vectors manage it for any number of vectors once d is large enough, and the
  number that keep *every* pair within ε with good odds grows exponentially with d for a fixed ε.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from scipy import special
from tqdm.auto import tqdm

from explainer.errors import ExplainerError
from explainer.files import read_json, write_json
from explainer.gpt.device import pick_device
from explainer.paths import DATA_DIR
from explainer.verdict import Verdict

MEMORY_FRACTION = 0.5  # at most this share of free memory for the N × N Gram matrix and its gradient


class GeometryError(ExplainerError, ValueError):
    """Impossible sizes or tolerances (N < 2, d < 1, an angle outside (0°, 90°), a Gram matrix too big)."""


def check_sizes(n: int, d: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise GeometryError(f"need at least N = 2 vectors to measure angles between, got {n!r}")
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise GeometryError(f"the dimension d must be a whole number >= 1, got {d!r}")


def cos_from_degrees(tolerance_degrees: float) -> float:
    """'every pair within 90° ± t' -> the largest allowed |cos| = sin t. t must lie in (0°, 90°)."""
    if not 0 < tolerance_degrees < 90:
        raise GeometryError(f"the tolerance must be between 0° and 90° away from perpendicular, got {tolerance_degrees}°")
    return math.sin(math.radians(tolerance_degrees))


def degrees_from_cos(max_abs_cos: float) -> float:
    """The tolerance around 90° that a largest |cos| corresponds to: 90° − arccos|cos|."""
    return 90.0 - math.degrees(math.acos(min(1.0, abs(max_abs_cos))))


# ---------- bounds ----------

def welch_bound(n: int, d: int) -> float:
    """Every set of n unit vectors in d dims has a pair with |cos| ≥ √((n − d)/(d(n − 1))) (0 when n ≤ d)."""
    check_sizes(n, d)
    return math.sqrt((n - d) / (d * (n - 1))) if n > d else 0.0


def levenshtein_bound(n: int, d: int) -> float | None:
    """Levenshtein's bound √((3n − d² − 2d)/((d + 2)(n − d))), valid for n > d(d + 1)/2 (None otherwise)."""
    check_sizes(n, d)
    if n <= d * (d + 1) / 2:
        return None
    return math.sqrt((3 * n - d * d - 2 * d) / ((d + 2) * (n - d)))


def lower_bound(n: int, d: int) -> float:
    """The best of the two: no packing of n vectors in d dims can have max |cos| below this."""
    levenshtein = levenshtein_bound(n, d)
    return max(welch_bound(n, d), levenshtein or 0.0)


def bounds_stop_limiting(d: int) -> float:
    """The |cos| from which the bounds allow any number of vectors: their value as n -> infinity, √(3/(d + 2))
    (Levenshtein's limit; Welch's, √(1/d), is lower for d > 1)."""
    check_sizes(2, d)
    return math.sqrt(3 / (d + 2)) if d > 1 else 1.0


def max_vectors(max_abs_cos: float, d: int) -> float:
    """The largest n that the bounds allow with every pair's |cos| ≤ max_abs_cos; math.inf when the bounds no
    longer limit it (from bounds_stop_limiting(d) on). The true count is finite for every d, but unknown."""
    if not 0 < max_abs_cos < 1:
        raise GeometryError(f"max |cos| must be between 0 and 1, got {max_abs_cos}")
    if max_abs_cos >= max(bounds_stop_limiting(d), math.sqrt(1 / d)):
        return math.inf
    low, high = d, d + 1
    while lower_bound(high, d) <= max_abs_cos:  # the bound grows with n: find an n it forbids, then bisect
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if lower_bound(middle, d) <= max_abs_cos else (low, middle)
    return low


def random_pair_within(max_abs_cos: float, d: int) -> float:
    """Probability that two independent random unit vectors in d dims have |cos| ≤ max_abs_cos (exact: cos² ~ Beta(½, (d−1)/2))."""
    check_sizes(2, d)
    if d == 1:
        return 0.0
    return float(special.betainc(0.5, (d - 1) / 2, max_abs_cos**2))


def random_pair_outside(max_abs_cos: float, d: int) -> float:
    """1 − random_pair_within, computed directly (the complementary incomplete beta), so that tiny probabilities
    such as 10⁻²⁰ do not round to 0."""
    check_sizes(2, d)
    if d == 1:
        return 1.0
    return float(special.betaincc(0.5, (d - 1) / 2, max_abs_cos**2))


def random_vectors_all_within(max_abs_cos: float, d: int) -> float:
    """A Johnson–Lindenstrauss-style lower estimate: with n random vectors and n(n−1)/2 · P(pair outside) ≤ ½
    (union bound), all pairs are within max_abs_cos with probability ≥ ½. Returns that n (exponential in d)."""
    outside = random_pair_outside(max_abs_cos, d)
    if outside <= 0:  # below 1e-308: more vectors than a float can count
        return math.inf
    return math.floor((1 + math.sqrt(1 + 4 / outside)) / 2)


@dataclass(frozen=True)
class MostPairs:
    """The talk's "hundreds of thousands of vectors in 100 dimensions" read as "most pairs within the band"."""

    d: int
    tolerance_cos: float
    random_share: float  # share of random pairs within the band
    rms_degrees: float  # for N ≫ d every arrangement has mean cos² ≥ about 1/d: this root-mean-square angle from 90°
    outside_if_copies: float  # share of pairs that must lie outside the band even if those are exact copies
    outside_if_45: float  # ... if no two vectors are closer than 45°
    half_d: int  # the smallest dimension from which random pairs fall in the band half the time
    ninety_d: int  # ... 90 % of the time


def dimension_for_share(max_abs_cos: float, share: float) -> int:
    """The smallest d at which a random pair has |cos| ≤ max_abs_cos with probability at least `share`."""
    low, high = 2, 2
    while random_pair_within(max_abs_cos, high) < share:
        low, high = high, 2 * high
    while low < high:
        middle = (low + high) // 2
        low, high = (middle + 1, high) if random_pair_within(max_abs_cos, middle) < share else (low, middle)
    return low


def most_pairs(d: int, max_abs_cos: float) -> MostPairs:
    """For N ≫ d, mean cos² over all pairs is at least (N − d)/(d(N − 1)) ≈ 1/d (Welch); if a share f of pairs lies in
    the band (cos² ≤ ε²) and the others have cos² ≤ c, then 1/d ≤ f ε² + (1 − f) c, so 1 − f ≥ (1/d − ε²)/(c − ε²)."""
    check_sizes(2, d)
    eps2 = max_abs_cos**2
    outside = lambda c: max(0.0, (1 / d - eps2) / (c - eps2))
    return MostPairs(d, max_abs_cos, random_pair_within(max_abs_cos, d), degrees_from_cos(math.sqrt(1 / d)),
                     outside(1.0), outside(0.5), dimension_for_share(max_abs_cos, 0.5), dimension_for_share(max_abs_cos, 0.9))


def most_pairs_verdict(found: MostPairs) -> Verdict:
    """Whether 'most pairs within the band' holds for random directions at this dimension, and what it would take."""
    degrees = degrees_from_cos(found.tolerance_cos)
    holds = found.random_share >= 0.5
    text = (f"In {found.d:,} dimensions random directions put **{found.random_share:.0%}** of pairs within 90° ± "
            f"{degrees:g}°. No arrangement of many more vectors than dimensions does much better on average: the mean cos² "
            f"over all pairs is at least about 1/d, a root-mean-square of **{found.rms_degrees:.1f}°** from perpendicular. ")
    if not holds:
        text += (f"For most pairs to lie in the band anyway, the others must be far from perpendicular: at least "
                 f"{found.outside_if_copies:.1%} of all pairs even if they are exact copies of each other, "
                 f"{found.outside_if_45:.1%} if no two vectors are closer than 45°. So the vectors would come in clusters "
                 "of near-copies, which defeats the point of distinct directions. ")
    text += (f"Random directions put half of all pairs in the band from d = {found.half_d:,} on, and 90 % from "
             f"d = {found.ninety_d:,}: the “most pairs” reading " + ("holds here." if holds else "needs thousands of dimensions."))
    return Verdict(holds, "most pairs of many random directions lie within the band", text)


def angle_density(angles_degrees: np.ndarray, d: int) -> np.ndarray:
    """Density (per degree) of the angle between two random unit vectors in d ≥ 2 dims: ∝ sin^(d−2) θ."""
    if d < 2:
        raise GeometryError("angles between random vectors need d >= 2")
    theta = np.radians(np.asarray(angles_degrees, dtype=float))
    log_norm = special.gammaln(d / 2) - special.gammaln((d - 1) / 2) - 0.5 * math.log(math.pi)
    with np.errstate(divide="ignore"):
        density = np.exp(log_norm + (d - 2) * np.log(np.sin(theta)))
    return density * math.pi / 180


# ---------- vectors and their angles ----------

def normalised(vectors: torch.Tensor) -> torch.Tensor:
    return vectors / vectors.norm(dim=1, keepdim=True)


def random_unit_vectors(n: int, d: int, seed: int = 0, device: str | torch.device = "cpu") -> torch.Tensor:
    check_sizes(n, d)
    generator = torch.Generator().manual_seed(seed)
    vectors = torch.randn(n, d, generator=generator, dtype=torch.float32)
    return normalised(vectors).to(pick_device(str(device)) if isinstance(device, str) else device)


BLOCK_FLOATS = 2**24  # one block of cosines holds at most this many numbers (64 MB in float32)


def block_rows(n: int) -> int:
    """How many rows of the N × N cosine matrix one block takes."""
    return max(64, min(n, BLOCK_FLOATS // n))


def upper_blocks(unit: torch.Tensor, rows: int, buffer: torch.Tensor | None = None):
    """Yield (start, stop, block): the cosines of rows start..stop with the columns from start on, the square part's
    diagonal and lower triangle set to 0, so every pair i < j appears once and the full matrix is never stored.
    With a `buffer` the blocks are written into it instead of new memory."""
    n = unit.shape[0]
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        if buffer is None:
            block = unit[start:stop] @ unit[start:].T
        else:
            block = buffer[:(stop - start) * (n - start)].view(stop - start, n - start)
            torch.mm(unit[start:stop], unit[start:].T, out=block)
        block[:, :stop - start].triu_(1)
        yield start, stop, block


def off_diagonal_cosines(vectors: torch.Tensor):
    """Yield the cosines of all pairs i < j, a block of rows at a time."""
    unit = normalised(vectors)
    for start, stop, block in upper_blocks(unit, block_rows(unit.shape[0])):
        square = block[:, :stop - start]
        above_diagonal = torch.ones_like(square, dtype=torch.bool).triu_(1)
        yield torch.cat([square[above_diagonal], block[:, stop - start:].reshape(-1)])


@dataclass
class AngleStats:
    """Pairwise angles of a set of vectors."""

    n: int
    d: int
    max_abs_cos: float
    mean_angle: float
    std_angle: float
    fraction_within: float  # share of pairs with |cos| ≤ tolerance_cos
    tolerance_cos: float
    histogram: np.ndarray = field(repr=False)  # counts per bin of angle in degrees
    bin_edges: np.ndarray = field(repr=False)

    @property
    def worst_angle_from_90(self) -> float:
        return degrees_from_cos(self.max_abs_cos)


def angle_stats(vectors: torch.Tensor, tolerance_cos: float = math.sin(math.radians(2)), bins: int = 180) -> AngleStats:
    """Max |cos|, mean and spread of the pairwise angles, the share within tolerance, and a histogram (0°–180°)."""
    n, d = vectors.shape
    check_sizes(n, d)
    histogram = np.zeros(bins)
    total, total_sq, within, worst = 0.0, 0.0, 0, 0.0
    for block in off_diagonal_cosines(vectors.float()):
        angles = pair_angles(block)
        histogram += angle_histogram(angles, bins).cpu().numpy()
        total += float(angles.sum())
        total_sq += float((angles**2).sum())
        within += int((block.abs() <= tolerance_cos).sum())
        worst = max(worst, float(block.abs().max()))
    return summed_stats(n, d, total, total_sq, within, worst, tolerance_cos, histogram)


def pair_angles(cosines: torch.Tensor) -> torch.Tensor:
    """Angles in degrees (float64) of the given cosines."""
    return torch.rad2deg(torch.arccos(cosines.clamp(-1, 1))).double()


def angle_histogram(angles: torch.Tensor, bins: int) -> torch.Tensor:
    """Angles counted in `bins` equal bins from 0° to 180° [bins]."""
    return torch.histc(angles, bins=bins, min=0, max=180).double()


def summed_stats(n: int, d: int, total: float, total_sq: float, within: float, worst: float, tolerance_cos: float,
                 histogram: np.ndarray) -> AngleStats:
    """AngleStats of the n (n − 1) / 2 pairs of n vectors from sums over them: of the angles, of their squares, of the
    pairs within tolerance, and the largest |cos|."""
    count = n * (n - 1) / 2
    mean = total / count
    return AngleStats(n, d, worst, mean, math.sqrt(max(0.0, total_sq / count - mean**2)), within / count, tolerance_cos,
                      histogram, np.linspace(0, 180, len(histogram) + 1))


POOL_ROWS = 10  # RandomDirections draws its vectors in blocks of this many (the N slider's step), each from its own seed


class RandomDirections:
    """N random unit vectors in each of several dimensions: in d dimensions, the first d coordinates of N Gaussian
    vectors of the widest dimension, normalised (each still a uniformly random direction). Their dot products are kept
    for every dimension, so that more vectors cost only the new ones' products and fewer cost none; vector i is the
    same however N got there (drawn in blocks of POOL_ROWS, each from a seed of its own)."""

    def __init__(self, dimensions: list[int], seed: int = 0):
        self.dimensions = sorted(set(dimensions))
        for d in self.dimensions:
            check_sizes(2, d)
        self.seed = seed
        self.gaussian = torch.zeros(0, self.dimensions[-1])  # [drawn, widest]
        self.dots = [torch.zeros(0, 0) for _ in self.dimensions]  # per dimension: [drawn, drawn], over its first d coordinates
        self.sums: dict[tuple[float, int], list[PairSums]] = {}  # per (tolerance, bins): per dimension

    def vectors(self, n: int, d: int) -> torch.Tensor:
        """The first n unit vectors in d dimensions [n, d]."""
        self.draw(n)
        return normalised(self.gaussian[:n, :d])

    def draw(self, n: int) -> None:
        """Vectors up to n (whole blocks), and their dot products with every vector drawn, in every dimension."""
        have = self.gaussian.shape[0]
        if n <= have:
            return
        check_memory(n, torch.device("cpu"), copies=len(self.dimensions) + self.dimensions[-1] / n)
        widest = self.dimensions[-1]
        new = torch.cat([torch.randn(POOL_ROWS, widest, generator=torch.Generator().manual_seed(hash((self.seed, block))))
                         for block in range(have // POOL_ROWS, -(-n // POOL_ROWS))])  # [new, widest]
        every = torch.cat([self.gaussian, new])
        across, done = torch.zeros(len(every), len(new)), 0  # every vector's dot product with each new one
        for k, d in enumerate(self.dimensions):
            across += every[:, done:d] @ new[:, done:d].T
            done = d
            self.dots[k] = torch.cat([torch.cat([self.dots[k], across[:have]], 1), across.T])
        self.gaussian = every

    def stats(self, n: int, tolerance_cos: float = math.sin(math.radians(2)), bins: int = 180) -> dict[int, AngleStats]:
        """AngleStats of the first n vectors in every dimension: read from running sums over the pairs, which grow by
        the new vectors' pairs only (a slider moved back and forth recounts nothing)."""
        check_sizes(n, self.dimensions[0])
        self.draw(n)
        kept = self.sums.setdefault((tolerance_cos, bins), [PairSums.empty(bins) for _ in self.dimensions])
        found = {}
        for k, d in enumerate(self.dimensions):
            kept[k].extend(self.dots[k], n, tolerance_cos)
            found[d] = kept[k].stats(n, d, tolerance_cos)
        return found


@dataclass
class PairSums:
    """Sums over the pairs among the first i vectors, for every i counted so far (row i: the pairs (j, i), j < i)."""

    histogram: torch.Tensor  # [counted + 1, bins] pairs per bin of angle, 0°–180°
    angles: torch.Tensor  # [counted + 1] sum of the angles (degrees, float64)
    squares: torch.Tensor  # [counted + 1] sum of their squares
    within: torch.Tensor  # [counted + 1] pairs with |cos| ≤ the tolerance
    worst: torch.Tensor  # [counted + 1] the largest |cos|

    @classmethod
    def empty(cls, bins: int) -> "PairSums":
        zero = torch.zeros(1, dtype=torch.float64)
        return cls(torch.zeros(1, bins, dtype=torch.float64), zero, zero, zero, zero)

    def extend(self, dots: torch.Tensor, n: int, tolerance_cos: float) -> None:
        """Count the pairs of vectors up to n from their dot products [drawn, drawn], each as angle_stats does."""
        counted, bins = len(self.angles) - 1, self.histogram.shape[1]
        if n <= counted:
            return
        lengths = dots[:n, :n].diagonal().sqrt()
        cosines = dots[:n, counted:n] / lengths[:n, None] / lengths[None, counted:n]  # [n, new]: pairs (j, i), j < i
        angles = pair_angles(cosines)
        pair = torch.arange(n)[:, None] < torch.arange(counted, n)[None, :]  # [n, new]
        none = torch.zeros((), dtype=torch.float64)
        new = {"histogram": torch.stack([angle_histogram(angles[:i, c], bins) for c, i in enumerate(range(counted, n))]),
               "angles": torch.where(pair, angles, none).sum(0), "squares": torch.where(pair, angles**2, none).sum(0),
               "within": ((cosines.abs() <= tolerance_cos) & pair).sum(0).double()}
        for name, found in new.items():
            setattr(self, name, torch.cat([getattr(self, name), getattr(self, name)[-1] + found.cumsum(0)]))
        worst = torch.where(pair, cosines.abs(), 0).max(0).values.double()
        self.worst = torch.cat([self.worst, torch.maximum(self.worst[-1], worst.cummax(0).values)])

    def stats(self, n: int, d: int, tolerance_cos: float) -> AngleStats:
        return summed_stats(n, d, float(self.angles[n]), float(self.squares[n]), float(self.within[n]),
                            float(self.worst[n]), tolerance_cos, self.histogram[n].numpy())


def check_memory(n: int, device: torch.device, copies: float = 3) -> None:
    """Refuse `copies` N × N matrices (by default a Gram matrix and its gradient) that will not fit, before allocating."""
    needed = copies * n * n * 4
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
    else:
        try:
            free = int(next(line for line in open("/proc/meminfo") if line.startswith("MemAvailable")).split()[1]) * 1024
        except (OSError, StopIteration):
            free = 8 * 2**30
    if needed > MEMORY_FRACTION * free:
        raise GeometryError(
            f"{n:,} vectors need about {needed / 2**30:.1f} GiB for their {n:,} × {n:,} cosine matrices, "
            f"more than half of the {free / 2**30:.1f} GiB free on {device}; use fewer vectors or a bigger device")


@dataclass
class PackingResult:
    vectors: torch.Tensor  # [n, d], unit rows, on the CPU
    max_abs_cos: float
    seconds: float
    steps: int
    history: list[tuple[int, float]]  # (step, max |cos|)
    snapshots: list[torch.Tensor] = field(default_factory=list, repr=False)  # vectors at recorded steps (for animations)


def lecture_recipe(n: int, d: int, steps: int = 100, lr: float = 0.01, seed: int = 0, device: str = "auto",
                   record_every: int = 10, progress: bool = True, time_limit_s: float | None = None) -> PackingResult:
    """The lecture's companion recipe: Adam on Σ relu(|x_i·x_j| − 0.01) plus n·Σ(|x_i|² − 1)², no renormalising."""
    check_sizes(n, d)
    device = pick_device(device)
    check_memory(n, device)
    vectors = random_unit_vectors(n, d, seed).to(device).requires_grad_(True)
    optimizer = torch.optim.Adam([vectors], lr=lr)
    identity = torch.eye(n, device=device)

    def gradient(index: int) -> None:
        optimizer.zero_grad(set_to_none=True)
        recipe_loss(vectors, identity, n).backward()

    return run_packing(vectors, steps, record_every, progress, "lecture recipe", gradient,
                       lambda index: optimizer.step(), time_limit_s)


def recipe_loss(vectors: torch.Tensor, identity: torch.Tensor, n: int) -> torch.Tensor:
    difference = vectors @ vectors.T - identity
    return (difference.abs() - 0.01).relu().sum() + n * difference.diag().pow(2).sum()


def spread_vectors(n: int, d: int, steps: int = 400, seed: int = 0, device: str = "auto", step_size: float = 0.15,
                   momentum: float = 0.9, threshold: float | None = None, record_every: int = 10,
                   progress: bool = True, time_limit_s: float | None = None, start: torch.Tensor | None = None) -> PackingResult:
    """Our optimiser, from `start` [n, d] (by default n random unit vectors drawn with `seed`). A plain push on the worst pairs jams: about N·(d − 1) pairs (one per degree of freedom) end up
    pressed against the threshold, and for N = 10,000, d = 100 that happens near |cos| = 0.22 whatever the push.
    So the cosines are first shaped as a whole and only then pressed. Shaping is a ladder of stages in which every
    pair above a floor (a share of the current worst |cos|: 0, then 0.4 … 0.9) pushes its two vectors apart with
    force (|cos| − floor)³, scaled so the worst pair's force is 0.1. The floor-0 stage minimises Σ cos⁴, which
    spreads the cosines as evenly as a spherical 4-design's would be; the later ones work on an ever thinner tail.
    The last stage pushes every pair above `threshold` τ in proportion to the excess (gradient descent on
    Σ (|cos| − τ)₊² / 2). By default τ is PRESS (95%) of the worst |cos| when the stage starts: the whole tail
    is pressed at once, and the worst pair goes as low as the steps or the time allow (τ = 0 when N ≤ d, which gives
    an orthonormal set). Every step moves along the sphere
    (the gradient's radial part removed) with heavy-ball momentum after a short warm-up, caps each vector's move
    at 0.3, and puts the vectors back on the sphere. The best set seen is returned. Under `time_limit_s` the
    stages follow the clock. Cosines are computed a block of rows at a time for pairs i < j only: memory grows
    like N, not N²."""
    check_sizes(n, d)
    if threshold is not None and not 0 <= threshold < 1:
        raise GeometryError(f"threshold must be a |cos| in [0, 1), got {threshold}; leave it out for 95% of the worst pair")
    if start is not None and tuple(start.shape) != (n, d):
        raise GeometryError(f"start must hold n × d = {n} × {d} vectors, got {tuple(start.shape)}")
    device = pick_device(device)
    vectors = (random_unit_vectors(n, d, seed) if start is None else normalised(start.float())).to(device)
    vectors.grad = torch.zeros_like(vectors)
    velocity = torch.zeros_like(vectors)
    pairs = PairBlocks(n, device)
    worst = max_abs_cos(vectors)
    best, best_worst = vectors.clone(), worst
    stage_ends = np.cumsum([share for share, _ in LADDER])
    started = time.perf_counter()

    def share_done(index: int) -> float:
        """The share of the steps taken, or of the time limit used if that is more."""
        used = 0.0 if time_limit_s is None else (time.perf_counter() - started) / time_limit_s
        return max(index / steps, used)

    def gradient(index: int) -> None:
        nonlocal worst, threshold, best_worst
        stage = int(np.searchsorted(stage_ends, share_done(index), side="right"))
        if stage == len(LADDER):
            if threshold is None:  # a little below the worst pair, so that the last stage pushes the tail;
                threshold = PRESS * worst if n > d else 0.0  # with N ≤ d every pair can be exactly perpendicular
            worst = pairs.gradient(vectors, lambda block: softshrink(block, threshold), vectors.grad)
        else:
            floor = LADDER[stage][1] * worst
            previous, worst = worst, pairs.gradient(vectors, lambda block: softshrink(block, floor).pow_(3), vectors.grad)
            vectors.grad.mul_(SHAPING_FORCE / max(previous - floor, 1e-6) ** 3)
        if worst < best_worst:  # worst belongs to the vectors as they are, before this step moves them
            best.copy_(vectors)
            best_worst = worst

    def step(index: int) -> None:
        move = vectors.grad.sub_(vectors * (vectors.grad * vectors).sum(1, keepdim=True)).mul_(step_size)
        move.mul_((0.3 / move.norm(dim=1, keepdim=True).clamp_(min=1e-12)).clamp_(max=1.0))
        velocity.mul_(momentum if index >= WARM_UP_STEPS else 0.0).sub_(move)
        vectors.add_(velocity)
        vectors.div_(vectors.norm(dim=1, keepdim=True))

    result = run_packing(vectors, steps, record_every, progress, "spreading", gradient, step, time_limit_s)
    if best_worst < result.max_abs_cos:  # the last steps may have lost ground: hand back the best set seen
        result = replace(result, vectors=best.cpu(), max_abs_cos=max_abs_cos(best))
    return result


# The shaping stages before the final push: (share of the steps, or of the time limit if that comes first;
# floor as a share of the worst |cos|)
LADDER = ((0.2, 0.0), (0.07, 0.4), (0.07, 0.5), (0.07, 0.6), (0.07, 0.7), (0.07, 0.8), (0.07, 0.9))
PRESS = 0.95  # the last stage pushes every pair above this share of the worst |cos| at the stage's start
SHAPING_FORCE = 0.1  # the worst pair's force in a shaping stage, the size of the final push's early on
WARM_UP_STEPS = 15  # plain gradient steps before momentum starts: the first forces are large and disordered


def softshrink(block: torch.Tensor, floor: float) -> torch.Tensor:
    """In place: cos − floor above the floor, cos + floor below −floor, 0 between."""
    return torch.ops.aten.softshrink.out(block, floor, out=block)


class PairBlocks:
    """All pairs i < j of N vectors, a block of rows at a time, in one reusable buffer of at most ~64 MB."""

    def __init__(self, n: int, device: torch.device):
        self.rows = block_rows(n)
        self.buffer = torch.empty(self.rows * n, device=device)

    def gradient(self, vectors: torch.Tensor, weigh, out: torch.Tensor) -> float:
        """out = W·X where W is weigh(cosines) off the diagonal (weigh works in place on a block; W symmetric).
        Returns the largest |cos| before weighing."""
        worst = torch.zeros((), device=vectors.device)
        out.zero_()
        for start, stop, block in upper_blocks(vectors, self.rows, self.buffer):
            low, high = torch.aminmax(block)
            worst = torch.maximum(worst, torch.maximum(-low, high))
            weigh(block)
            out[start:stop].addmm_(block, vectors[start:])
            out[start:].addmm_(block.T, vectors[start:stop])
        return float(worst)


def run_packing(vectors, steps, record_every, progress, label, gradient, step, time_limit_s=None) -> PackingResult:
    """The shared loop: gradient(index) fills vectors.grad, step(index) moves the vectors; records max |cos|."""
    started = time.perf_counter()
    history, snapshots = [], []
    bar = tqdm(range(steps), desc=label, disable=not progress, unit="step")
    done = 0
    for index in bar:
        gradient(index)
        with torch.no_grad():
            step(index)
        done = index + 1
        if index % record_every == 0 or index == steps - 1:
            worst = max_abs_cos(vectors.detach())
            history.append((index, worst))
            snapshots.append(vectors.detach().cpu().clone())
            bar.set_postfix(max_cos=f"{worst:.3f}", refresh=False)
        if time_limit_s is not None and time.perf_counter() - started > time_limit_s:
            break
    final = normalised(vectors.detach())
    worst = max_abs_cos(final)
    history.append((done, worst))
    return PackingResult(final.cpu(), worst, time.perf_counter() - started, done, history, snapshots)


def max_abs_cos(vectors: torch.Tensor) -> float:
    """The largest |cos| over all pairs (a block of rows at a time)."""
    unit = normalised(vectors)
    worst = 0.0
    for _, _, block in upper_blocks(unit, block_rows(unit.shape[0])):
        low, high = torch.aminmax(block)
        worst = max(worst, -float(low), float(high))
    return worst


# ---------- measured packings, shipped in data/ ----------

PACKINGS_FILE = DATA_DIR / "precomputed" / "packings.json"


@dataclass(frozen=True)
class PackingMeasurement:
    n: int
    d: int
    steps: int
    random: float  # max |cos| of random unit vectors (seed 0)
    optimised: float  # max |cos| after spread_vectors(n, d, steps, seed 0)
    bound: float  # no arrangement can go below this


def measure_packings(sizes: list[int], d: int = 100, steps: int = 300, progress: bool = True) -> list[PackingMeasurement]:
    """Our optimiser against random vectors and the bound, for each number of vectors (seed 0, on the CPU)."""
    return [PackingMeasurement(n, d, steps, max_abs_cos(random_unit_vectors(n, d, seed=0)),
                               spread_vectors(n, d, steps=steps, seed=0, device="cpu", progress=progress).max_abs_cos,
                               lower_bound(n, d)) for n in sizes]


def write_packings(sizes: list[int] = (120, 200, 400, 800, 1600, 3200), d: int = 100, steps: int = 300) -> Path:
    """Measure and write PACKINGS_FILE (what `explainer precompute packings` runs)."""
    measured = measure_packings(list(sizes), d, steps)
    write_json(PACKINGS_FILE, {"made_by": "explainer precompute packings", "measurements": [asdict(m) for m in measured]})
    return PACKINGS_FILE


def shipped_packings() -> list[PackingMeasurement]:
    """The measurements shipped in data/ (so a notebook shows them at once); remake with `explainer precompute packings`."""
    return [PackingMeasurement(**m) for m in read_json(PACKINGS_FILE, "explainer precompute packings")["measurements"]]
