"""Citizen API (SPEC §8): a session or ``Authorization: Token <key>`` (DRF tokens), and a login.

A citizen route may sit under the public mount (``POST /api/v1/reservations/``) where SPEC puts
it; it still takes these credentials and refuses a request without them (401, SPEC §1's body).
"""

from __future__ import annotations

from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import BasePermission

# Token first, so a request with no credentials is told 401 and how to authenticate.
CITIZEN_AUTHENTICATION = [TokenAuthentication, SessionAuthentication]


class IsCitizen(BasePermission):
    message = "请先登录 / login required"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active)


class CitizenAPIMixin:
    authentication_classes = CITIZEN_AUTHENTICATION
    permission_classes = [IsCitizen]
