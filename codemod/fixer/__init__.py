"""The runtime fixer: plan a rewrite for each diagnosed problem, apply it, prove it.

planner.py chooses the rule and the node; edits.py turns plans into file edits
(diffs, atomic writes, byte-for-byte rollback); runtime_client.py launches the
runtime; verdict.py decides whether a re-run proves the fix; apply.py runs the
rounds; report.py renders the outcome. Nothing here imports torch.
"""
