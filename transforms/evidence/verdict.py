"""The answer every evidence question gives: yes/no/unknown, how sure, and why.

One type for all questions (tensor? leaf? tracked?) so a rule can pass any of them on
to a finding, whose confidence and note come straight from the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from inplace_fix.transforms.base import Confidence

# Confidence as a number, to pick the strongest (or weakest) of several verdicts.
RANK = {Confidence.HIGH: 2, Confidence.MEDIUM: 1, Confidence.LOW: 0}


@dataclass(frozen=True)
class Verdict:
    """`tensor` True/False/None (unknown) with how sure and why."""

    tensor: bool | None
    confidence: Confidence = Confidence.LOW
    note: str = ""


UNKNOWN = Verdict(None)
NON = Verdict(False)


def yes(conf: Confidence, note: str) -> Verdict:
    """A positive verdict (shorthand: most evidence is a confidence and a note)."""
    return Verdict(True, conf, note)


def lowered(v: Verdict) -> Verdict:
    """`v` one confidence step weaker: the evidence holds only for some bindings or elements."""
    c = Confidence.MEDIUM if v.confidence is Confidence.HIGH else Confidence.LOW
    return Verdict(True, c, v.note)
