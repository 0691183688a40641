"""Every route a running Jupyter server serves, and a path that reaches each one.

The route-inventory test walks the server's own routing table (Jupyter's handlers,
Huddle's, every other extension's) rather than a list written here, so a route added
tomorrow is tried too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from tornado.routing import PathMatches, Router
from tornado.web import RequestHandler

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# What a path segment of any shape is filled with: matches \w, [^/] and .* alike, and no
# route of its own.
FILLER = "probe"


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    handler: type[RequestHandler]

    def methods(self) -> list[str]:
        """The HTTP methods the handler class implements itself."""
        return [m for m in METHODS if getattr(self.handler, m.lower(), None)
                is not getattr(RequestHandler, m.lower())]

    @property
    def name(self) -> str:
        return f"{self.handler.__module__}.{self.handler.__qualname__} {self.pattern.pattern}"


def routes(web_app: Any) -> list[Route]:
    """Every (path pattern, handler class) in routing order."""
    found: list[Route] = []
    _walk(web_app.default_router, found)
    return found


def _walk(router: Any, found: list[Route]) -> None:
    for rule in getattr(router, "rules", []):
        target = rule.target
        if isinstance(target, Router) or hasattr(target, "rules"):
            _walk(target, found)
        elif isinstance(rule.matcher, PathMatches) and isinstance(target, type) and (
                issubclass(target, RequestHandler)):
            found.append(Route(rule.matcher.regex, target))


def example_path(pattern: re.Pattern[str]) -> str:
    """A path the pattern matches in full, with every free part filled by ``FILLER``."""
    text = "".join(_generate(sre_parse.parse(pattern.pattern)))
    if not pattern.fullmatch(text):
        raise ValueError(f"cannot build a path for {pattern.pattern!r} (got {text!r})")
    return text


def _generate(parsed: Any) -> Iterator[str]:
    items = list(parsed)
    index = 0
    while index < len(items):
        op, value = items[index]
        # a run of "anything" ([^/]+, .*, \w+) becomes one FILLER, not a letter per item
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and _is_free(value[2]):
            yield FILLER
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, _high, sub = value
            yield from (part for _ in range(max(low, 1)) for part in _generate(sub))
        elif op is sre.SUBPATTERN:
            yield from _generate(value[-1])
        elif op is sre.BRANCH:
            yield from _generate(value[1][0])
        elif op is sre.LITERAL:
            yield chr(value)
        elif op in (sre.IN, sre.ANY, sre.NOT_LITERAL):
            yield _one_char(op, value)
        index += 1


def _is_free(sub: Any) -> bool:
    """A repeat of one "any character" item (., [^/], \\w, [\\w.-]...)."""
    items = list(sub)
    if len(items) != 1:
        return False
    op, value = items[0]
    return op in (sre.ANY, sre.NOT_LITERAL) or (op is sre.IN and _accepts_letters(value))


def _accepts_letters(value: Any) -> bool:
    return all(re.fullmatch(_char_class(value), ch) for ch in FILLER)


def _char_class(value: Any) -> str:
    parts, negate = [], False
    for op, arg in value:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            parts.append(re.escape(chr(arg)))
        elif op is sre.RANGE:
            parts.append(f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}")
        elif op is sre.CATEGORY:
            parts.append({sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_WORD: r"\w",
                          sre.CATEGORY_SPACE: r"\s"}.get(arg, r"\w"))
    return f"[{'^' if negate else ''}{''.join(parts)}]"


def _one_char(op: Any, value: Any) -> str:
    if op is sre.ANY:
        return "a"
    if op is sre.NOT_LITERAL:
        return "a" if chr(value) != "a" else "b"
    allowed = _char_class(value)
    return next(ch for ch in "a0_-.xyz" if re.fullmatch(allowed, ch))


def first_match(all_routes: list[Route], path: str) -> Route | None:
    """The route Tornado would pick for ``path`` (the first whose pattern matches)."""
    return next((r for r in all_routes if r.pattern.match(path)), None)
