"""The sign-in page: plain server-rendered HTML (no scripts), so it works before any session exists and
needs nothing but itself (its style is inline; no asset is served to a stranger)."""

from __future__ import annotations

from html import escape

__all__ = ["signin_page"]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; background: #f6f7f9; }
.header { padding: 0.6rem 1.2rem; background: #1f3a5f; color: #fff; font-weight: 700; font-size: 1.2rem; }
main { display: flex; justify-content: center; padding-top: 8vh; }
form { background: #fff; padding: 1.6rem 2rem; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); width: 22rem; }
h1 { font-size: 1.3rem; margin: 0 0 1rem; }
label { display: block; margin: 0.8rem 0 0.25rem; font-size: 0.9rem; color: #444; }
input[type=text], input[type=password] { width: 100%; box-sizing: border-box; padding: 0.45rem 0.6rem; border: 1px solid #99a; border-radius: 4px; font-size: 1rem; }
button { margin-top: 1.2rem; width: 100%; padding: 0.5rem; border: 0; border-radius: 4px; background: #1f6feb; color: #fff; font-size: 1rem; cursor: pointer; }
.message { padding: 0.6rem 0.8rem; border-radius: 4px; margin-bottom: 0.6rem; font-size: 0.92rem; }
.message.error { background: #fdecea; border: 1px solid #f5c2c0; color: #7a1c16; }
.message.info { background: #eaf2fd; border: 1px solid #bcd3f5; color: #1f3a5f; }
.note { color: #666; font-size: 0.8rem; margin-top: 1rem; }
"""


def signin_page(
    *, csrf: str, next_path: str, username: str = "", message: str = "", kind: str = "info"
) -> str:
    notice = (
        f'<div id="signin-message" class="message {escape(kind)}" role="alert">{escape(message)}</div>'
        if message
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fitpipe · sign in</title>
<link rel="icon" href="data:,">
<style>{_STYLE}</style>
</head>
<body>
<div class="header">fitpipe</div>
<main>
<form id="signin-form" method="post" action="/login" autocomplete="on">
<h1>Sign in to the trial dashboard</h1>
{notice}
<input type="hidden" name="csrf" value="{escape(csrf)}">
<input type="hidden" name="next" value="{escape(next_path)}">
<label for="username">User name</label>
<input type="text" id="username" name="username" value="{escape(username)}" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" id="signin-submit">Sign in</button>
<p class="note">Accounts are created by your study's administrator (<code>fitpipe users add</code>).
Everything you open or send here is recorded under your name.</p>
</form>
</main>
</body>
</html>
"""
