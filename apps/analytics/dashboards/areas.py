"""Districts: the regions right below the city, each with the regions under it (a management area
inside a district counts for the district). The tree is a few dozen rows, read once per call."""

from __future__ import annotations

from dataclasses import dataclass

from apps.regions.models import Region


@dataclass(frozen=True)
class District:
    pk: int
    code: str
    name: str


def districts() -> tuple[dict[int, District], dict[int, int]]:
    """Every district, and for every region the district it belongs to (a city maps to nothing)."""
    rows = {pk: (code, name, parent, level) for pk, code, name, parent, level in
            Region.objects.values_list("pk", "code", "name", "parent_id", "level")}
    by_pk: dict[int, District] = {}
    owner: dict[int, int] = {}
    for pk in rows:
        chain = [pk]
        while rows[chain[-1]][2] is not None and rows[chain[-1]][2] in rows and len(chain) < 10:
            chain.append(rows[chain[-1]][2])
        # chain ends at the root: the district is the region just below it (or the root itself when
        # the tree has no city above it)
        top = chain[-2] if len(chain) >= 2 and rows[chain[-1]][3] == Region.Level.CITY else chain[-1]
        if rows[top][3] == Region.Level.CITY:
            continue
        owner[pk] = top
        by_pk[top] = District(pk=top, code=rows[top][0], name=rows[top][1])
    return by_pk, owner
