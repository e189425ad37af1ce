"""Admin for the city registry: divisions, operators (经营单位) and who works on what."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from apps.common.actor import Actor
from apps.common.admin import ScopedAdminMixin, ScopedChoicesMixin, ScopedHistoryAdmin, export_csv
from apps.common.scope import scope_of

from .models import Operator, Region, StaffScope
from .services import operator_save, region_rename, staff_grant_default_permissions
from .validators import validate_credit_code

User = get_user_model()


@admin.register(Region)
class RegionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-mostly: the divisions come from GB/T 2260 (``regions_load_wuxi``); staff may fix a name."""

    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")
    ordering = ("code",)

    def get_readonly_fields(self, request, obj=None):
        return ("code", "level", "parent") if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False  # lots, tariffs and operators point at regions; a division is never removed

    def save_model(self, request, obj, form, change):
        if not change:  # only a superuser adds divisions (regions_load_wuxi loads them)
            return super().save_model(request, obj, form, change)
        region_rename(region=obj, name=obj.name, actor=Actor.from_request(request))
        return None


class OperatorForm(forms.ModelForm):
    # Longer than 18 on input: staff paste codes with spaces, which are dropped before validation.
    credit_code = forms.CharField(label=_("统一社会信用代码"), max_length=32,
                                  help_text=_("18位，GB 32100-2015，含校验位"))

    class Meta:
        model = Operator
        fields = ("name", "credit_code", "ownership", "region", "contact_name", "contact_phone",
                  "settlement_bank", "settlement_account_name", "settlement_account_no")

    def clean_credit_code(self):
        # Staff paste codes with spaces or in lower case; the check character decides validity.
        code = (self.cleaned_data.get("credit_code") or "").replace(" ", "").strip().upper()
        validate_credit_code(code)
        return code


@admin.register(Operator)
class OperatorAdmin(ScopedHistoryAdmin):
    form = OperatorForm
    list_display = ("name", "credit_code", "ownership", "region", "contact_name", "contact_phone")
    list_filter = ("ownership", ("region", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "credit_code", "contact_name")
    list_select_related = ("region",)
    autocomplete_fields = ("region",)
    fieldsets = (
        (None, {"fields": ("name", "credit_code", "ownership", "region")}),
        (_("联系方式"), {"fields": ("contact_name", "contact_phone")}),
        (_("结算账户"), {"fields": ("settlement_bank", "settlement_account_name", "settlement_account_no")}),
    )
    actions = [export_csv(("name", "credit_code", "ownership", "region__name", "contact_name", "contact_phone"),
                          filename="operators")]

    def save_model(self, request, obj, form, change):
        operator_save(operator=obj, actor=Actor.from_request(request))


class StaffScopeInline(ScopedChoicesMixin, admin.StackedInline):
    model = StaffScope
    can_delete = True
    max_num = 1
    extra = 0
    fields = ("kind", "region", "operator")
    autocomplete_fields = ("region", "operator")
    verbose_name = _("工作范围")
    verbose_name_plural = _("工作范围（决定此用户在后台能看到哪些数据）")


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin plus the staff scope; only city-wide staff manage users.

    A region officer given user permissions by mistake still cannot reach this page: otherwise
    they could widen their own scope.
    """

    inlines = (*DjangoUserAdmin.inlines, StaffScopeInline)
    list_display = ("username", "first_name", "last_name", "is_staff", "scope_display")
    list_select_related = ("staff_scope__region", "staff_scope__operator")

    @admin.display(description=_("工作范围"))
    def scope_display(self, obj):
        scope = getattr(obj, "staff_scope", None)
        if scope is None:
            return "—"
        return scope.region or scope.operator or scope.get_kind_display()

    def _city_wide(self, request) -> bool:
        return scope_of(request.user).city_wide

    def has_module_permission(self, request):
        return self._city_wide(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._city_wide(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return self._city_wide(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return self._city_wide(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._city_wide(request) and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Only a superuser hands out superuser status or raw permissions; scope + group do the rest.
            readonly += ("is_superuser", "user_permissions")
        return readonly

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if StaffScope.objects.filter(user=form.instance).exists():
            # The group carries the permissions that match the scope's kind.
            staff_grant_default_permissions(user=form.instance)
