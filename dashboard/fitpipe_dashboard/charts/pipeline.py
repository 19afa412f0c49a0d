"""The pipeline-health panel: quarantined records by reason."""

from __future__ import annotations

import plotly.graph_objects as go

from fitpipe.contracts import QuarantineAnswer
from fitpipe_dashboard.charts.empty import BASE_LAYOUT, message_figure

__all__ = ["quarantine_figure"]


def quarantine_figure(answer: QuarantineAnswer) -> go.Figure:
    counts = answer.by_reason
    if not counts:
        return message_figure("nothing quarantined: every record read so far was valid", title="Quarantine")
    reasons = [c.reason for c in counts][::-1]
    fig = go.Figure(
        go.Bar(
            x=[c.count for c in counts][::-1],
            y=reasons,
            orientation="h",
            marker_color="#d35400",
            hovertemplate="%{y}: %{x:,} records<extra></extra>",
        )
    )
    fig.update_layout(
        **(
            BASE_LAYOUT
            | {
                "height": max(220, 60 + 28 * len(reasons)),
                "hovermode": "closest",
                "margin": {"l": 320, "r": 20, "t": 40, "b": 50},
            }
        ),
        title="Quarantined records by reason",
        xaxis={"title": "records (count)"},
        yaxis={"title": None, "automargin": True},
    )
    return fig
