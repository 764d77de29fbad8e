"""The runtime half: imported inside the user's interpreter.

It depends on the standard library and torch only, and imports nothing else of
ours, so it runs under any interpreter that has torch, installed or not.
"""
