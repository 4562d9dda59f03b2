"""Matching found segments to a generated scene's events."""

from __future__ import annotations

#: A found segment matches an event when both its edges are this close (s): the issue's
#: criterion
EDGE_TOLERANCE_S = 0.25


def matched_events(events: list[dict], found: list) -> list:
    """For each true event (``start_s``, ``end_s``), the first found segment not matched
    yet whose edges are both within :data:`EDGE_TOLERANCE_S` of its own, or None."""
    used: set[int] = set()
    out = []
    for event in events:
        match = None
        for i, segment in enumerate(found):
            if (
                i not in used
                and abs(segment.start_s - event["start_s"]) <= EDGE_TOLERANCE_S
                and abs(segment.end_s - event["end_s"]) <= EDGE_TOLERANCE_S
            ):
                used.add(i)
                match = segment
                break
        out.append(match)
    return out
