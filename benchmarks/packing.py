"""Packing N unit vectors in d dims as far apart as possible: the lecture's recipe vs our optimiser, against the bound.

    python benchmarks/packing.py [--device cuda] [--quick] [--seconds 60]

For N = 10,000 and d = 100 the Levenshtein bound says the worst pair has |cos| ≥ 0.140. Both optimisers get the
same time budget; the lecture's recipe (Adam, penalty on |dot| above 0.01, unit-norm penalty) is the baseline.
"""

import argparse
import json

from explainer import geometry as g


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="N = 2,000 and 15 s each")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    n, d, seconds = (2000, 100, 15.0) if args.quick else (10_000, 100, args.seconds)
    bound = g.lower_bound(n, d)
    random_max = g.max_abs_cos(g.random_unit_vectors(n, d))
    print(f"N = {n:,}, d = {d}: bound {bound:.3f}, random vectors {random_max:.3f}, {seconds:.0f} s each on {args.device}")
    recipe = g.lecture_recipe(n, d, steps=100_000, device=args.device, progress=False, record_every=25, time_limit_s=seconds)
    print(f"lecture recipe: max |cos| {recipe.max_abs_cos:.3f} after {recipe.steps} steps, {recipe.seconds:.0f} s")
    ours = g.spread_vectors(n, d, steps=100_000, device=args.device, progress=False, record_every=50,
                            time_limit_s=seconds)  # its stages then follow the clock
    print(f"ours:           max |cos| {ours.max_abs_cos:.4f} after {ours.steps} steps, {ours.seconds:.0f} s "
          f"({ours.max_abs_cos / bound:.2f}x the bound)")
    print(json.dumps({"n": n, "d": d, "bound": round(bound, 4), "random": round(random_max, 4),
                      "recipe_max_cos": round(recipe.max_abs_cos, 4), "recipe_steps": recipe.steps,
                      "ours_max_cos": round(ours.max_abs_cos, 4), "ours_steps": ours.steps, "seconds_each": seconds,
                      "ours_over_bound": round(ours.max_abs_cos / bound, 3)}))


if __name__ == "__main__":
    main()
