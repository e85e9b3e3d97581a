"""The matching pipeline, in the order a listing flows through it.

listing → `normalise` / `identifiers` → `encoder` → `index` + `candidates` (candidate generation,
a.k.a. blocking) → `features` (pair features) → `classifier` (calibrated P(match)) → `verdict`
(decision against `thresholds`). `cascade` is the cheap lexical gate in front of it all,
`screener` the thin orchestrator and `bundle` the saved artifact that holds the pieces.
"""
