"""The claims study (issue #18): a pre-registered design run end to end, with reviewer-grade statistics.

    python -m evaluation.study studies/claims.toml --out results/study-claims [--resume] [--small]
        [--backend local|ray] [--workers N] [--ray-address ADDRESS]

Modules: :mod:`~evaluation.study.design` (the design TOML), :mod:`~evaluation.study.networks`
(train the replicate networks, their exact-Shapley balance), :mod:`~evaluation.study.episodes`
(run the policies through the runner, collect one table), :mod:`~evaluation.study.stats`
(paired comparisons, clustered bootstrap, mixed models, Holm, verdicts),
:mod:`~evaluation.study.claims` (the paper's claims as tests) and :mod:`~evaluation.study.report`
(tables, figures, ``claims.md``); :mod:`~evaluation.study.cli` ties them together.
"""
