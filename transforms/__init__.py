"""The rewrite rules, one module per rule code (IPF001-IPF008).

Installed as `inplace_fix.transforms`. Public entry points live in `api` (analyze /
rewrite / locate) and `registry` (ALL_RULES, get_rule, rule_for_kind); the data in
`base`; whether an expression is a tracked tensor in `evidence/`. Nothing
here imports torch: the tables of in-place ops are generated once from torch by
`transforms/data/generate_inplace_tables.py` into `transforms/data/inplace_tables.py`.
"""
