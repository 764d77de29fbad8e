"""The runtime fixer: plan a rewrite for each diagnosed problem, apply it, prove it.

planner.py chooses the rules and the nodes (ordered candidates); edits.py turns plans
into file edits (diffs, atomic writes, byte-for-byte rollback); runtime_client.py runs
the script through the launcher with the verifier's flags; verifier.py decides whether
a re-run proves the fix; apply.py runs the rounds; outcome.py is what they produce;
preview.py is the dry run. Nothing here imports torch or prints.
"""
