"""What callbacks return, as types: page content, a figure, or `no_update` (keep what the page shows)."""

from __future__ import annotations

from collections.abc import Sequence

from dash import NoUpdate
from dash.development.base_component import Component

__all__ = ["Child", "Children", "NoUpdate", "Style"]

Child = Component | str | int | float | None
Children = Child | Sequence[Child]
"""A component's `children`: text, components, or a list of them."""
Style = dict[str, str]
"""A component's `style` (CSS property → value)."""
