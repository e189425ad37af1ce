"""Citizens, their bound plates and the notice log in the staff admin, scoped (``apps.wechat.models``:
a plate is seen by the staff of the lots it parked in), read-only; and the button that pushes the
account's menu again."""

from __future__ import annotations

import contextlib

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from requests import RequestException
from wechatpy.exceptions import WeChatClientException

from apps.common import plates
from apps.common.actor import Actor
from apps.common.admin import ReadOnlyAdminMixin, ScopedAdminMixin
from apps.common.errors import DomainError

from .models import BoundPlate, Citizen, Notice, WechatIdentity
from .services import menu_push, notices_resend


class PlateSearchMixin:
    def get_search_results(self, request, queryset, search_term):
        with contextlib.suppress(plates.PlateError):
            search_term = plates.validate(search_term.strip())
        return super().get_search_results(request, queryset, search_term)


class BoundPlateInline(ReadOnlyAdminMixin, ScopedAdminMixin, admin.TabularInline):
    model = BoundPlate
    fields = ("plate", "bound_at", "proof")
    readonly_fields = fields
    extra = 0


class IdentityInline(ReadOnlyAdminMixin, ScopedAdminMixin, admin.TabularInline):
    model = WechatIdentity
    fields = ("app_id", "openid", "subscribed", "created_at")
    readonly_fields = fields
    extra = 0


@admin.register(Citizen)
class CitizenAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "plate_list", "created_at")
    # Not by plate: a hit would tell an officer who holds a plate that never parked in their scope
    # (the bound plates' own list is searched by plate, within scope).
    search_fields = ("=identities__openid", "=unionid")
    fields = ("unionid", "created_at")
    readonly_fields = fields
    inlines = (BoundPlateInline, IdentityInline)

    def get_queryset(self, request):
        # Only the plates this member of staff may see (the inline is scoped the same way).
        visible = BoundPlate.objects.for_user(request.user)
        return super().get_queryset(request).prefetch_related(Prefetch("plates", queryset=visible))

    @admin.display(description=_("绑定车牌"))
    def plate_list(self, obj):
        return "、".join(bound.plate for bound in obj.plates.all()) or "—"


@admin.register(BoundPlate)
class BoundPlateAdmin(PlateSearchMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("plate", "citizen", "bound_at", "proof")
    search_fields = ("=plate",)
    list_select_related = ("citizen",)
    date_hierarchy = "bound_at"


class FailedFilter(admin.SimpleListFilter):
    title = _("发送情况")
    parameter_name = "failed"

    def lookups(self, request, model_admin):
        return (("yes", _("发送失败")),)

    def queryset(self, request, queryset):
        return queryset.failed() if self.value() == "yes" else queryset


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "kind", "channel", "citizen", "state", "attempts", "sent_at", "error")
    list_filter = (FailedFilter, "state", "channel", "kind", "created_at")
    search_fields = ("=openid",)
    list_select_related = ("citizen",)
    date_hierarchy = "created_at"
    change_list_template = "admin/wechat/notice/change_list.html"
    actions = ["resend"]

    @admin.action(description=_("重新发送所选的失败通知"), permissions=["resend"])
    def resend(self, request, queryset):
        queued = notices_resend(notices=queryset, actor=Actor.from_request(request))
        self.message_user(request, gettext("已重新排队发送 %(n)d 条通知") % {"n": queued}, messages.SUCCESS)

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("wechat.resend_notice")

    def get_urls(self):
        return [path("push-menu/", self.admin_site.admin_view(self.push_menu_view), name="wechat_notice_push_menu"),
                *super().get_urls()]

    @staticmethod
    def has_push_menu_permission(request) -> bool:
        return request.user.has_perm("wechat.push_menu")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "has_push_menu_permission": self.has_push_menu_permission(request)}
        return super().changelist_view(request, extra_context)

    def push_menu_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_push_menu_permission(request):
            raise PermissionDenied
        try:
            menu_push(actor=Actor.from_request(request))
        except (DomainError, WeChatClientException, RequestException) as exc:
            self.message_user(request, gettext("菜单推送失败：%(error)s") % {"error": str(exc)[:200]}, messages.ERROR)
        else:
            self.message_user(request, gettext("已将公众号菜单推送到微信"), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:wechat_notice_changelist"))
