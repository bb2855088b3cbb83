"""What one screen may hold: per-screen component counts and the rules of If and Switch branches.

From Meta's components reference (https://developers.facebook.com/docs/whatsapp/flows/reference/components):
a screen has at most one Footer, 2 EmbeddedLinks, 3 Images, 5 OptIns (and 2 ImageCarousels, 2
NavigationLists, one PhotoPicker, one DocumentPicker); `If` nests at most 3 deep; a Footer inside
an `If` sits at its first level and in both branches (so `else` becomes necessary), a Footer in a
`Switch` in every case; a branch is never empty.

Counting goes through branches the way the phone shows them: only one branch of an If or a Switch
is on screen at a time, so a branch counts with the largest of its alternatives. Two Footers in the
two branches of one If are one Footer; a Footer beside an If whose branches hold Footers is two.
"""

from __future__ import annotations

from typing import Any

from .context import Context, Screen, cap
from .report import JsonPath

PER_SCREEN = {
    "Footer": 1,
    "EmbeddedLink": 2,
    "Image": 3,
    "OptIn": 5,
    "ImageCarousel": 2,
    "NavigationList": 2,
    "PhotoPicker": 1,
    "DocumentPicker": 1,
}
MAX_IF_DEPTH = 3

# For each limited type, the paths of the components one rendering of the screen can show.
Counts = dict[str, list[JsonPath]]


def check_layouts(ctx: Context) -> None:
    for screen in ctx.screens:
        layout = screen.raw.get("layout")
        if not isinstance(layout, dict):
            continue
        counts = _count(
            ctx, screen, layout.get("children"), (*screen.path, "layout", "children"), 0
        )
        for ctype, limit in PER_SCREEN.items():
            found = counts.get(ctype, ())
            if len(found) > limit:
                _too_many(ctx, screen, ctype, limit, len(found), found[limit])


def _too_many(
    ctx: Context, screen: Screen, ctype: str, limit: int, count: int, path: JsonPath
) -> None:
    if ctype == "Footer":
        ctx.error(
            "more-than-one-footer",
            f"{cap(screen.label)} has more than one Footer: a screen has at most one. Remove "
            "this one, or put the alternatives in the two branches of an If.",
            path,
        )
        return
    ctx.error(
        "too-many-components",
        f"{cap(screen.label)} shows {count} {ctype} components at once; Meta allows at most "
        f"{limit} per screen: remove {count - limit} or move them to another screen.",
        path,
    )


def _count(ctx: Context, screen: Screen, children: Any, path: JsonPath, if_depth: int) -> Counts:
    counts: Counts = {}
    if not isinstance(children, list):
        return counts
    for index, comp in enumerate(children):
        if not isinstance(comp, dict):
            continue
        where = (*path, index)
        ctype = comp.get("type")
        if ctype in PER_SCREEN:
            counts.setdefault(ctype, []).append(where)
        elif ctype == "Form":
            _add(counts, _count(ctx, screen, comp.get("children"), (*where, "children"), if_depth))
        elif ctype == "If":
            _add(counts, _if(ctx, screen, comp, where, if_depth + 1))
        elif ctype == "Switch":
            _add(counts, _switch(ctx, screen, comp, where, if_depth))
    return counts


def _if(ctx: Context, screen: Screen, comp: dict, path: JsonPath, depth: int) -> Counts:
    if depth > MAX_IF_DEPTH:
        ctx.error(
            "if-nested-too-deeply",
            f"An If on {screen.label} sits inside {depth - 1} other Ifs; Meta allows If to be "
            f"nested at most {MAX_IF_DEPTH} deep: combine the conditions with && instead.",
            (*path, "type"),
        )
    then = comp.get("then")
    if isinstance(then, list) and not then:
        ctx.error(
            "empty-branch",
            f'The "then" of an If on {screen.label} is empty: Meta refuses an If that shows '
            "nothing when its condition holds. Add components, or invert the condition and "
            'move the "else" components here.',
            (*path, "then"),
        )
    branches = {"then": then, "else": comp.get("else")}
    counted = {
        name: _count(ctx, screen, children, (*path, name), depth)
        for name, children in branches.items()
    }
    with_footer = [name for name, counts in counted.items() if counts.get("Footer")]
    if with_footer and depth > 1:
        ctx.error(
            "footer-in-nested-if",
            f"A Footer on {screen.label} sits in an If inside another If; Meta allows a Footer "
            "only in an If at the first level: move the Footer up into the outer If's branches.",
            counted[with_footer[0]]["Footer"][0],
        )
    elif len(with_footer) == 1:
        missing = "else" if with_footer == ["then"] else "then"
        ctx.error(
            "footer-not-in-every-branch",
            f'A Footer on {screen.label} is in the "{with_footer[0]}" of an If but not in its '
            f'"{missing}": Meta needs the Footer in both branches (so "else" becomes '
            f'necessary), or outside the If. Add a Footer to "{missing}".',
            (*path, missing) if isinstance(branches[missing], list) else (*path, "type"),
        )
    return _widest(counted.values())


def _switch(ctx: Context, screen: Screen, comp: dict, path: JsonPath, depth: int) -> Counts:
    cases = comp.get("cases")
    if not isinstance(cases, dict):
        return {}
    if not cases:
        ctx.error(
            "empty-branch",
            f"A Switch on {screen.label} has no cases: add at least one "
            '("value": [components]) or remove the Switch.',
            (*path, "cases"),
        )
        return {}
    counted = {}
    for case, children in cases.items():
        where = (*path, "cases", case)
        if isinstance(children, list) and not children:
            ctx.error(
                "empty-branch",
                f'Case "{case}" of a Switch on {screen.label} is empty: Meta refuses empty '
                "cases. Add components, or remove the case.",
                where,
            )
        counted[case] = _count(ctx, screen, children, where, depth)
    with_footer = [case for case, counts in counted.items() if counts.get("Footer")]
    if with_footer and len(with_footer) < len(counted):
        missing = next(case for case in counted if case not in with_footer)
        ctx.error(
            "footer-not-in-every-branch",
            f'A Footer on {screen.label} is in some cases of a Switch but not in case "{missing}": '
            "Meta needs the Footer in every case or outside the Switch. Add a Footer there.",
            (*path, "cases", missing),
        )
    return _widest(counted.values())


def _add(counts: Counts, more: Counts) -> None:
    for ctype, paths in more.items():
        counts.setdefault(ctype, []).extend(paths)


def _widest(alternatives: Any) -> Counts:
    """Per type, the alternative that shows the most (only one branch is on screen at a time)."""
    widest: Counts = {}
    for counts in alternatives:
        for ctype, paths in counts.items():
            if len(paths) > len(widest.get(ctype, ())):
                widest[ctype] = paths
    return widest
