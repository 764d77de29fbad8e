"""Every rule, by code. Codes are stable: never renumber."""

from __future__ import annotations

from inplace_fix.transforms.base import Rule
from inplace_fix.transforms.clone_saved import CloneSaved
from inplace_fix.transforms.ipf001_augmented_assignment import AugmentedAssignment
from inplace_fix.transforms.ipf002_inplace_method import InplaceMethod
from inplace_fix.transforms.ipf003_inplace_function import InplaceFunction
from inplace_fix.transforms.ipf004_inplace_flag import InplaceFlag
from inplace_fix.transforms.ipf005_data_attribute import DataAttribute
from inplace_fix.transforms.ipf006_indexed_assignment import IndexedAssignment
from inplace_fix.transforms.ipf007_out_argument import OutArgument
from inplace_fix.transforms.ipf008_leaf_inplace import LeafInplace

ALL_RULES: tuple[Rule, ...] = tuple(sorted(
    (AugmentedAssignment(), InplaceMethod(), InplaceFunction(), InplaceFlag(), DataAttribute(),
     IndexedAssignment(), OutArgument(), LeafInplace()),
    key=lambda r: r.code,
))
# Rewrites the runtime fixer offers that no scan reports (nothing is wrong at their site).
FIX_STRATEGIES: tuple[Rule, ...] = (CloneSaved(),)
_BY_CODE: dict[str, Rule] = {r.code.upper(): r for r in (*ALL_RULES, *FIX_STRATEGIES)}


def get_rule(code: str) -> Rule:
    """The rule for `code` (e.g. "IPF001"); KeyError for an unknown code."""
    try:
        return _BY_CODE[code.upper()]
    except KeyError:
        raise KeyError(f"unknown rule code {code!r}; known: {', '.join(r.code for r in ALL_RULES)}") from None


def rule_for_kind(kind: str) -> Rule | None:
    """The rule that answers a runtime problem of `kind` when the runtime names no rule."""
    return next((r for r in ALL_RULES if kind in r.runtime_kinds), None)
