"""The contact dialog: the preview of the message and recipients, the force option, confirm, the result."""

from __future__ import annotations

from dash import dcc, html

__all__ = ["contact_dialog", "HIDDEN", "SHOWN"]

HIDDEN = {"display": "none"}
SHOWN = {"display": "block"}


def contact_dialog() -> html.Div:
    return html.Div(
        id="contact-dialog",
        className="dialog-backdrop",
        style=HIDDEN,
        children=[
            html.Div(
                className="dialog",
                role="dialog",
                children=[
                    html.H3(id="contact-title"),
                    html.Div(id="contact-preview", className="preview"),
                    dcc.Checklist(
                        id="contact-force",
                        value=[],
                        options=[
                            {
                                "label": " send even to participants emailed within the cooldown (force)",
                                "value": "force",
                            }
                        ],
                    ),
                    html.Div(
                        className="dialog-buttons",
                        children=[
                            html.Button("Send", id="contact-confirm", className="button primary"),
                            html.Button("Close", id="contact-close", className="button"),
                        ],
                    ),
                    html.Div(id="contact-result", className="result"),
                ],
            ),
        ],
    )
