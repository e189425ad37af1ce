"""Staff API: the same for_user scope as the admin (apps/common/scope.py), applied in one place."""

from __future__ import annotations

from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission

from apps.common.scope import may_change


class IsStaff(BasePermission):
    message = "仅限平台工作人员 / staff only"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)


class MayChange(BasePermission):
    """Writes through the staff API follow the admin's rule (``apps.common.scope.may_change``):
    an object seen (a city-level operator, a shared tariff) is not necessarily one to change."""

    message = "无权修改该对象 / you may not change this"

    def has_object_permission(self, request, view, obj) -> bool:
        return request.method in SAFE_METHODS or may_change(request.user, obj)


class StaffScopedMixin:
    """A staff endpoint sees only the rows its user's scope covers: the list, and every object by
    id (another region's id is a 404, as if it did not exist)."""

    # Token first, so a request with no credentials is told 401 and how to authenticate.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsStaff, MayChange]

    def get_queryset(self):
        return super().get_queryset().for_user(self.request.user)
