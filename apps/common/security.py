"""The browser-facing security headers: Content-Security-Policy and Permissions-Policy.

Django's SecurityMiddleware already sends X-Content-Type-Options, Referrer-Policy and
Cross-Origin-Opener-Policy, and XFrameOptionsMiddleware X-Frame-Options; what it lacks is a CSP
and a Permissions-Policy, which this middleware adds. A small middleware of ours rather than
django-csp: the policy is one fixed set of directives built from settings (the map's tile hosts),
the pages load every script from ``static/`` (no CDN, no inline script), and the one thing a
package would add, a per-request nonce, is a few lines here: a template that needs an inline
``<style>`` or ``<script>`` writes ``nonce="{{ request.csp_nonce }}"``, and only a response whose
rendering asked for the nonce names it in its policy.
"""

from __future__ import annotations

import secrets

from django.conf import settings


class _Nonce:
    """A per-request nonce, made the first time a template asks for it."""

    def __init__(self):
        self.value: str | None = None

    def __str__(self) -> str:
        if self.value is None:
            self.value = secrets.token_urlsafe(16)
        return self.value

    def __html__(self) -> str:  # safe in a template: it is urlsafe base64
        return str(self)


def content_security_policy(nonce: str | None = None) -> str:
    directives = {name: list(sources) for name, sources in settings.CSP_DIRECTIVES.items()}
    if nonce:
        for name in ("script-src", "style-src"):
            directives.setdefault(name, ["'self'"]).append(f"'nonce-{nonce}'")
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        nonce = request.csp_nonce = _Nonce()
        response = self.get_response(request)
        # A response that sets its own policy keeps it; a template response renders before this returns.
        if settings.CSP_DIRECTIVES and "Content-Security-Policy" not in response:
            header = "Content-Security-Policy-Report-Only" if settings.CSP_REPORT_ONLY else "Content-Security-Policy"
            response[header] = content_security_policy(nonce.value)
        if settings.PERMISSIONS_POLICY and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = settings.PERMISSIONS_POLICY
        return response
