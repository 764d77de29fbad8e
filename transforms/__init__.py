"""The rewrite rules, one module per rule code (IPF001-IPF008).

Public entry points live in `transforms.api` (analyze / rewrite / locate) and
`transforms.registry` (ALL_RULES, get_rule); the data in `transforms.base`. Nothing
here imports torch: the tables of in-place ops are generated once from torch by
`transforms/data/generate_inplace_tables.py` into `transforms/data/inplace_tables.py`.
"""
