"""Experiment (c): mechanism decomposition of the trusted-release effect.

The effect of trusted release (trusted_release - baseline, same seeds) with all channels on,
and with the data flywheel, capital mobility or talent mobility switched off one at a time;
every variant runs on the same seeds. The share of an effect that runs through a channel is

    share = 1 - effect(channel off) / effect(all channels on),

each effect the mean over seeds of trusted_release - baseline. Effects carry their paired t
intervals; shares a paired bootstrap interval over seeds (see :func:`share_interval`). Where
the all-channels effect's interval includes 0 the share is not meaningful (a ratio over
something that may be 0): ``share_defined`` is false there, and the printed table leaves
the share out.

Writes results/experiments/decomposition/ (runs, timeseries, manifest, table.csv) and prints
the table. Run it again with the same --out to reprint from the stored batch.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from _common import (
    arguments,
    check_overrides,
    execute,
    output_dir,
    planned,
    scenario,
    show,
)

from agentsim.analysis import paired_differences
from agentsim.ensemble import plan_comparison
from agentsim.store import write_csv

VARIANTS = {
    "all_channels": {},
    "no_flywheel": {"policy.channels.flywheel": False},
    "no_capital_mobility": {"policy.channels.capital_mobility": False},
    "no_talent_mobility": {"policy.channels.talent_mobility": False},
}
OUTCOMES = [
    "final_frontier_capability_us",
    "final_us_lead_ooms",
    "final_us_user_share",
    "final_us_capital_share",
    "final_us_talent_share",
]
#: Bootstrap resamples of each share's interval.
RESAMPLES = 9999
#: Mixed with the root seed into the bootstrap's generator, so that it draws a stream of its
#: own (the runs' seeds are children of SeedSequence(root seed)).
BOOTSTRAP_STREAM = 0xB007
#: Table columns, in order (table.csv).
COLUMNS = [
    "variant",
    "outcome",
    "effect",
    "ci_low",
    "ci_high",
    "n_pairs",
    "share",
    "share_low",
    "share_high",
    "n_seeds",
    "share_defined",
]


def designs(assignments: Sequence[str] = ()) -> dict[str, dict]:
    """Both scenarios under every variant, named ``<scenario>:<variant>`` (no two alike: the
    planner refuses two names for one config). ``assignments`` are ``--set`` expressions
    applied to all eight; one that sets a channel switch is refused (:class:`ConfigError`)."""
    check_overrides(
        assignments,
        [key for switches in VARIANTS.values() for key in switches],
        "the experiment switches the channels off one at a time",
    )
    configs = {}
    for variant, switches in VARIANTS.items():
        for name in ("baseline", "trusted_release"):
            label = f"{name}:{variant}"
            configs[label] = {**scenario(name, assignments, **switches), "name": label}
    return configs


def _share(base_all, policy_all, base_off, policy_off, axis=-1):
    """1 - mean(policy_off - base_off) / mean(policy_all - base_all) along ``axis``."""
    full = np.mean(policy_all - base_all, axis=axis)
    off = np.mean(policy_off - base_off, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - off / full


def share_interval(
    base_all: np.ndarray,
    policy_all: np.ndarray,
    base_off: np.ndarray,
    policy_off: np.ndarray,
    rng: np.random.Generator,
    level: float = 0.95,
    resamples: int = RESAMPLES,
) -> tuple[float, float, float]:
    """The share of the policy effect that runs through a channel, and its paired bootstrap
    interval.

    The four arrays hold one outcome per seed (the same seeds, in the same order, shape
    ``(n,)``): the baseline and the policy with all channels on, and both with the channel
    off. The share is ``1 - mean(policy_off - base_off) / mean(policy_all - base_all)``.
    Its interval comes from :func:`scipy.stats.bootstrap` with ``paired=True``: seeds are
    resampled jointly, so each resample keeps a seed's four runs together (the common random
    numbers that make the effects precise). The method is BCa (bias-corrected and
    accelerated; Efron and Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 14)
    rather than the percentile interval: a ratio of means is biased and skewed at the
    sample sizes here (tens of seeds), and BCa corrects for both, with second-order accurate
    coverage where the percentile interval is first-order. ``rng`` draws the resamples (a
    generator seeded from the root seed gives the same interval every time).

    Returns (share, low, high); all NaN with fewer than 3 seeds or an all-channels effect of
    exactly 0; bounds equal to the share where every resample gives the share (a
    channel-off effect that is exactly 0 on every seed, say); NaN bounds where BCa cannot
    be computed otherwise (resamples whose all-channels effect is 0, say). Raises
    ``ValueError`` unless the four arrays are one-dimensional and of one length.
    """
    from scipy.stats import bootstrap

    arrays = [np.asarray(a, dtype=float) for a in (base_all, policy_all, base_off, policy_off)]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        raise ValueError("share_interval: give four one-dimensional arrays of one length")
    share = float(_share(*arrays))
    if arrays[0].size < 3 or not math.isfinite(share):
        return math.nan, math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate or undefined resamples: NaN bounds below
        result = bootstrap(
            arrays,
            _share,
            paired=True,
            vectorized=True,
            n_resamples=resamples,
            confidence_level=level,
            method="BCa",
            rng=rng,
        )
    low, high = (float(v) for v in result.confidence_interval)
    spread = result.bootstrap_distribution
    if np.all(spread == share):  # every resample alike (an effect that is exactly 0, say)
        return share, share, share
    if not (math.isfinite(low) and math.isfinite(high)):
        return share, math.nan, math.nan
    return share, low, high


def decomposition_table(
    runs: pd.DataFrame, root_seed: int, resamples: int = RESAMPLES
) -> pd.DataFrame:
    """The effect of trusted release per channel variant and outcome, with the share that
    runs through each channel.

    ``runs`` is the batch's runs frame (one row per run; scenarios ``<scenario>:<variant>``
    as :func:`designs` names them). One row per variant and outcome, columns
    :data:`COLUMNS`: ``effect`` (mean over seeds of trusted_release - baseline) with its
    paired 95% t interval ``ci_low``/``ci_high`` over ``n_pairs`` seeds
    (:func:`agentsim.analysis.paired_differences`); ``share`` (NaN for all_channels) with
    its 95% BCa bootstrap interval
    ``share_low``/``share_high`` over the ``n_seeds`` seeds where all four runs succeeded
    and the outcome is defined (:func:`share_interval`, resampled with a generator seeded
    from ``root_seed``, so the same runs and seed give the same intervals);
    ``share_defined``, whether the all-channels effect's interval excludes 0 (the share is a
    ratio over that effect, meaningless where it may be 0). Raises ``KeyError``
    when a scenario or outcome is missing from ``runs``.
    """
    rng = np.random.default_rng([BOOTSTRAP_STREAM, root_seed])
    ok = runs[runs["error"].isna()]
    by_seed = {name: group.set_index("seed") for name, group in ok.groupby("scenario")}
    rows = []
    for variant in VARIANTS:
        diffs = paired_differences(
            runs, f"baseline:{variant}", f"trusted_release:{variant}", OUTCOMES
        )
        for row in diffs.itertuples(index=False):
            rows.append(
                {
                    "variant": variant,
                    "outcome": row.outcome,
                    "effect": row.difference,
                    "ci_low": row.ci_low,
                    "ci_high": row.ci_high,
                    "n_pairs": row.n_pairs,
                }
            )
    table = pd.DataFrame(rows)
    full = table[table["variant"] == "all_channels"].set_index("outcome")
    defined = {o: not (r.ci_low <= 0 <= r.ci_high) for o, r in full.iterrows()}
    shares = []
    for row in table.itertuples(index=False):
        if row.variant == "all_channels":
            shares.append((math.nan, math.nan, math.nan, 0, False))
            continue
        names = [
            "baseline:all_channels",
            "trusted_release:all_channels",
            f"baseline:{row.variant}",
            f"trusted_release:{row.variant}",
        ]
        columns = pd.concat(
            [by_seed[name][row.outcome].rename(name) for name in names], axis=1, join="inner"
        )
        columns = columns.apply(pd.to_numeric, errors="coerce").dropna()
        share, low, high = share_interval(
            *(columns[name].to_numpy(float) for name in names), rng, resamples=resamples
        )
        ok_share = bool(defined[row.outcome]) and math.isfinite(share)
        shares.append((share, low, high, len(columns), ok_share))
    table[["share", "share_low", "share_high", "n_seeds", "share_defined"]] = pd.DataFrame(
        shares, index=table.index
    )
    table["n_seeds"] = table["n_seeds"].astype(int)
    table["share_defined"] = table["share_defined"].astype(bool)
    return table[COLUMNS]


def main(argv: Sequence[str] | None = None) -> None:
    """Run (or reuse, or resume) the batch and print the table (see the module's docstring)."""
    args = arguments(__doc__.splitlines()[0], runs=40, argv=argv, script=__file__)
    out = output_dir(args, "decomposition")
    plan = planned(lambda: plan_comparison(designs(args.set_), args.runs, args.seed))
    result = execute(plan, out, args)
    table = decomposition_table(result.runs, args.seed)
    write_csv(out / "table.csv", table)
    shown = table.copy()
    hidden = ~shown["share_defined"]
    shown.loc[hidden, ["share", "share_low", "share_high"]] = math.nan
    show(
        shown,
        f"Trusted-release effect by channel ({args.runs} seeds per scenario): effect = mean "
        "of trusted_release - baseline with its paired 95% t interval; share through the "
        "channel = 1 - effect(off) / effect(all on) with its 95% paired-bootstrap BCa "
        "interval; n/a where share_defined is false (the all-channels effect's interval "
        "includes 0)",
    )
    print(f"\nresults: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
