"""The token graph: tokens are nodes, every market (pool or CEX instrument) is an edge between its two tokens.

The graph only grows (a market is added the first time a state of it is seen, from configuration or PoolInfo);
a market with no fresh state is skipped by the strategies, not removed. Triangular arbitrage walks it: the
3-cycles through an edge ``a-b`` go through the tokens adjacent to both.
"""

from __future__ import annotations


class TokenGraph:
    """Markets by token pair and tokens by neighbour (insertion-ordered, so iteration is deterministic)."""

    __slots__ = ("_adjacent", "_between", "_ends")

    def __init__(self) -> None:
        self._ends: dict[str, tuple[str, str]] = {}
        self._between: dict[tuple[str, str], tuple[str, ...]] = {}
        self._adjacent: dict[str, dict[str, None]] = {}

    def add(self, key: str, token_a: str, token_b: str) -> bool:
        """Add a market between two tokens; return True if it was not known."""
        if key in self._ends or token_a == token_b:
            return False
        a, b = sorted((token_a, token_b))
        self._ends[key] = (a, b)
        self._between[(a, b)] = tuple(sorted((*self._between.get((a, b), ()), key)))
        self._adjacent.setdefault(a, {})[b] = None
        self._adjacent.setdefault(b, {})[a] = None
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._ends

    def __len__(self) -> int:
        return len(self._ends)

    def ends(self, key: str) -> tuple[str, str]:
        """The two tokens of a market, sorted."""
        return self._ends[key]

    def between(self, token_a: str, token_b: str) -> tuple[str, ...]:
        """Markets between two tokens, sorted by key."""
        a, b = (token_a, token_b) if token_a < token_b else (token_b, token_a)
        return self._between.get((a, b), ())

    def neighbours(self, token: str) -> list[str]:
        """Tokens sharing a market with ``token``."""
        return list(self._adjacent.get(token, ()))

    def common_neighbours(self, token_a: str, token_b: str) -> list[str]:
        """Tokens adjacent to both ``token_a`` and ``token_b`` (the third corners of triangles on ``a-b``), sorted."""
        na, nb = self._adjacent.get(token_a, {}), self._adjacent.get(token_b, {})
        small, large = (na, nb) if len(na) <= len(nb) else (nb, na)
        return sorted(t for t in small if t in large)

    def copy(self) -> TokenGraph:
        """A copy that shares no mutable containers with this graph."""
        g = TokenGraph()
        g._ends = dict(self._ends)
        g._between = dict(self._between)
        g._adjacent = {t: dict(n) for t, n in self._adjacent.items()}
        return g

    def __getstate__(self) -> tuple:
        return (self._ends, self._between, self._adjacent)

    def __setstate__(self, state: tuple) -> None:
        self._ends, self._between, self._adjacent = state
