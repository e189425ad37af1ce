"""The staff admin for lots, tariffs, device credentials, free windows and outages.

Every admin here is scoped (``ScopedAdminMixin``) and saves through ``apps.lots.services``.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Prefetch
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from apps.common.actor import Actor
from apps.common.admin import (
    ReadOnlyAdminMixin,
    ScopedAdminMixin,
    ScopedHistoryAdmin,
    export_csv,
    message_domain_error,
    null_filter,
)
from apps.common.errors import DomainError

from .admin_import import InventoryImportMixin
from .choices import LOT_CHOICE_FIELDS, lot_choices
from .errors import InvalidTariff
from .hours import FORMAT_MESSAGE, normalized_hours
from .models import Device, FreeWindow, LotOutage, ParkingLot, Tariff
from .services import (
    device_change,
    device_issue,
    device_revoke,
    device_rotate_secret,
    free_window_delete,
    free_window_save,
    lot_save,
    tariff_save,
)
from .tariff_rules import tariff_rules_check
from .tariff_text import describe_rules_in
from .widgets import CoordinatesField, CoordinatesWidget

# -- list filters --------------------------------------------------------------------------------
OnlineFilter = null_filter("offline_since", _("在线状态"), parameter="online",
                           null=("online", _("在线")), not_null=("offline", _("离线")))
HasTariffFilter = null_filter("tariff", _("收费标准"), parameter="has_tariff",
                              null=("no", _("未设置")), not_null=("yes", _("已设置")))
OngoingFilter = null_filter("ended_at", _("是否仍离线"), parameter="ongoing",
                            null=("yes", _("仍离线")), not_null=("no", _("已恢复")))
RevokedFilter = null_filter("revoked_at", _("密钥状态"), parameter="revoked",
                            null=("no", _("有效")), not_null=("yes", _("已吊销")))


# -- lots ----------------------------------------------------------------------------------------
class LotAdminForm(forms.ModelForm):
    """Lat/lon are edited together on a map (``position``); the model's errors on either land there."""

    position = CoordinatesField(
        label=_("位置"),
        widget=CoordinatesWidget(coord_system_input="coords_entered_as"),
        help_text=_("保存为 WGS-84；若填写的是高德/腾讯地图（GCJ-02）坐标，请在下方选择 GCJ-02，保存时自动换算"),
    )
    coords_entered_as = forms.ChoiceField(
        label=_("所填坐标的坐标系"), choices=ParkingLot.CoordSystem.choices,
        initial=ParkingLot.CoordSystem.WGS84, required=True,
        help_text=_("地图上点选的位置总是 WGS-84"),
    )

    class Meta:
        model = ParkingLot
        fields = ("code", "name", "address", "region", "operator", "kind", "category", "zone_class", "road_class",
                  "total_berths", "ev_berths", "accessible_berths", "reservable_berths", "opening_hours", "tariff",
                  "allow_pay_later", "filing_status", "compliance_level", "status")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.lat is not None and self.instance.lon is not None and "position" in self.fields:
            self.initial.setdefault("position", (self.instance.lat, self.instance.lon))

    def clean_code(self):
        return (self.cleaned_data.get("code") or "").strip().upper()

    def clean_opening_hours(self):
        """Stored as the forecast and the open data read it (``07:00-11:30,13:00-22:00``). Only a
        changed value is checked: a lot registered with other text keeps it until staff change it."""
        text = (self.cleaned_data.get("opening_hours") or "").strip()
        if "opening_hours" not in self.changed_data:
            return self.cleaned_data.get("opening_hours")
        hours = normalized_hours(text)
        if hours is None:
            raise forms.ValidationError(FORMAT_MESSAGE, code="invalid_opening_hours")
        return hours

    def _post_clean(self):
        position = self.cleaned_data.get("position")
        if position:
            self.instance.lat, self.instance.lon = position
        super()._post_clean()

    def add_error(self, field, error):
        # The model names lat/lon; the form shows them as one field.
        if field in ("lat", "lon"):
            field = "position"
        elif field is None and hasattr(error, "error_dict"):
            remapped: dict = {}
            for name, errors in error.error_dict.items():
                remapped.setdefault("position" if name in ("lat", "lon") else name, []).extend(errors)
            error = forms.ValidationError(remapped)
        super().add_error(field, error)


@admin.register(ParkingLot)
class ParkingLotAdmin(InventoryImportMixin, ScopedHistoryAdmin):
    form = LotAdminForm
    change_list_template = "admin/lots/parkinglot/change_list.html"
    service_error_fields = {"lat": "position", "lon": "position"}
    # Readable at 1366 px beside the sidebar and the filters: filing, compliance and pay-later are
    # filters (and in the export), not columns; the region is named without its code.
    list_display = ("code", "name", "region_name", "operator", "kind", "free_of_total", "status_badge", "tariff")
    list_display_links = ("code", "name")
    list_filter = (
        ("region", admin.RelatedOnlyFieldListFilter), "kind", "category", "status", OnlineFilter,
        "filing_status", "compliance_level", HasTariffFilter, "allow_pay_later", "zone_class", "road_class",
    )
    search_fields = ("code", "name", "address", "operator__name")
    list_select_related = ("region", "operator", "tariff")
    autocomplete_fields = ("region", "operator", "tariff")
    readonly_fields = ("source_coord_system", "free_berths", "occupancy_updated_at", "last_seen_at",
                       "offline_since", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "address", "region", "operator", "kind", "category")}),
        (_("道路泊位"), {"fields": ("zone_class", "road_class")}),
        (_("位置"), {"fields": ("position", "coords_entered_as", "source_coord_system")}),
        (_("泊位"), {"fields": ("total_berths", "ev_berths", "accessible_berths", "reservable_berths")}),
        (_("运营"), {"fields": ("opening_hours", "tariff", "allow_pay_later", "status", "filing_status",
                              "compliance_level")}),
        (_("实时状态（由停车场系统上报）"), {"fields": ("free_berths", "occupancy_updated_at", "last_seen_at",
                                                   "offline_since", "created_at", "updated_at")}),
    )
    actions = [
        export_csv(("code", "name", "address", "region__name", "operator__name", "kind", "category", "lat", "lon",
                    "total_berths", "free_berths", "ev_berths", "accessible_berths", "opening_hours", "tariff__name",
                    "allow_pay_later", "filing_status", "compliance_level", "status", "offline_since"),
                   filename="lots"),
        "mark_open",
        "mark_closed",
    ]

    class Media:
        css = {"all": ("lots/lot_list.css",)}

    @admin.display(description=_("区域"), ordering="region__code")
    def region_name(self, obj):
        return obj.region.name

    @admin.display(description=_("空余/总泊位"), ordering="free_berths")
    def free_of_total(self, obj):
        return f"{obj.free_berths}/{obj.total_berths}"

    @admin.display(description=_("状态"))
    def status_badge(self, obj):
        labels = {"open": _("开放"), "full": _("已满"), "closed": _("关闭"), "offline": _("离线")}
        return labels[obj.public_status]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name in LOT_CHOICE_FIELDS and formfield is not None:
            formfield.queryset = lot_choices(db_field.name, request.user)  # the import offers the same
        return formfield

    def save_model(self, request, obj, form, change):
        entered = form.cleaned_data.get("coords_entered_as") or ParkingLot.CoordSystem.WGS84
        if entered != ParkingLot.CoordSystem.WGS84 or "position" in form.changed_data:
            obj.source_coord_system = entered  # where these coordinates came from, for the audit trail
        lot_save(lot=obj, actor=Actor.from_request(request),
                 coords_in_source_system=entered != ParkingLot.CoordSystem.WGS84)

    def _set_status(self, request, queryset, status: str) -> None:
        changed = 0
        for lot in self.scoped_objects(request, queryset).exclude(status=status):
            lot.status = status
            try:
                lot_save(lot=lot, actor=Actor.from_request(request))
            except DomainError as exc:
                message_domain_error(self, request, exc, lot)
            else:
                changed += 1
        self.message_user(request, gettext("已更新 %(n)d 个停车场") % {"n": changed})

    @admin.action(description=_("设为开放"), permissions=["change"])
    def mark_open(self, request, queryset):
        self._set_status(request, queryset, ParkingLot.Status.OPEN)

    @admin.action(description=_("设为关闭"), permissions=["change"])
    def mark_closed(self, request, queryset):
        self._set_status(request, queryset, ParkingLot.Status.CLOSED)


# -- tariffs -------------------------------------------------------------------------------------
class IndentedJSONField(forms.JSONField):
    """Rules shown indented, Chinese unescaped: staff read and edit them as text."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class TariffAdminForm(forms.ModelForm):
    rules = IndentedJSONField(
        label=_("计费规则"),
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100, "spellcheck": "false",
                                     "style": "font-family: monospace"}),
        help_text=_("SPEC §6 计费规则 JSON；保存前由计费引擎校验，错误会指出字段路径，如 small.bands[1].end"),
    )

    class Meta:
        model = Tariff
        fields = ("name", "key", "region", "source", "is_demo", "rules")

    # The rules are judged by Tariff.clean() (``tariff_rules_check``, the one check every path uses).

    def add_error(self, field, error):
        # When the form couldn't parse the JSON, Tariff.clean() judges rules it never received; the
        # form's own message is the one to show.
        if field is None and hasattr(error, "error_dict") and "rules" in self._errors:
            remaining = {name: errors for name, errors in error.error_dict.items() if name != "rules"}
            if not remaining:
                return
            error = forms.ValidationError(remaining)
        super().add_error(field, error)


@admin.register(Tariff)
class TariffAdmin(ScopedHistoryAdmin):
    form = TariffAdminForm
    list_display = ("name", "key", "region", "is_demo", "source", "updated_at")
    list_filter = (("region", admin.RelatedOnlyFieldListFilter), "is_demo")
    search_fields = ("name", "key", "source")
    list_select_related = ("region",)
    autocomplete_fields = ("region",)
    readonly_fields = ("rules_preview", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "key", "region", "source", "is_demo")}),
        (_("规则"), {"fields": ("rules", "rules_preview")}),
        (None, {"fields": ("created_at", "updated_at")}),
    )
    actions = [export_csv(("name", "key", "region__name", "is_demo", "source", "updated_at"), filename="tariffs")]

    @admin.display(description=_("规则说明（预览）"))
    def rules_preview(self, obj):
        if obj is None or not obj.rules:
            return "—"
        try:
            tariff_rules_check(obj.rules)
        except InvalidTariff as exc:
            return exc.message
        classes = [name for name in obj.rules if isinstance(obj.rules.get(name), dict)]
        labels = {"small": gettext("小型车"), "large": gettext("大型车")}
        return format_html("<dl>{}</dl>", format_html_join(
            "", "<dt>{}</dt><dd>{}</dd>",
            ((labels.get(name, name), describe_rules_in(get_language(), obj.rules, name)) for name in classes),
        ))

    def save_model(self, request, obj, form, change):
        tariff_save(tariff=obj, actor=Actor.from_request(request))


# -- devices -------------------------------------------------------------------------------------
class DeviceAdminForm(forms.ModelForm):
    class Meta:
        model = Device
        fields = ("name", "kind", "lots")


@admin.register(Device)
class DeviceAdmin(ScopedHistoryAdmin):
    """Issuing a device creates its key; the secret is shown on the next page only, once."""

    form = DeviceAdminForm
    list_display = ("name", "kind", "access_key", "secret_fingerprint", "lots_display", "issued_at",
                    "revoked_display", "last_seen_at")
    list_filter = (RevokedFilter, "kind", ("lots__region", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "access_key", "secret_fingerprint", "lots__code", "lots__name")
    autocomplete_fields = ("lots",)
    readonly_fields = ("access_key", "secret_fingerprint", "issued_at", "revoked_at", "last_seen_at")
    actions = ["rotate_secret", "revoke"]
    issued_page_template = "admin/lots/device/secret.html"

    def get_queryset(self, request):
        # Lot codes outside the user's scope are not listed, only counted.
        visible = Prefetch("lots", queryset=ParkingLot.objects.for_user(request.user), to_attr="visible_lots")
        return super().get_queryset(request).prefetch_related(visible).annotate(
            lot_count=Count("lots", distinct=True))

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "kind", "lots")
        if not self.has_change_permission(request, obj):
            # Read-only (a key shared with another district): name only the lots in the viewer's scope.
            return ("name", "kind", "lots_in_scope", *self.readonly_fields)
        return ("name", "kind", "lots", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            return (*readonly, "lots_in_scope")
        return readonly

    @admin.display(description=_("可上报停车场"))
    def lots_in_scope(self, obj):
        visible = getattr(obj, "visible_lots", None)
        if visible is None:
            visible = list(obj.lots.for_user(self._reader(obj)))
        total = getattr(obj, "lot_count", None)
        total = obj.lots.count() if total is None else total
        text = "、".join(str(lot) for lot in visible) or "—"
        others = total - len(visible)
        if others:
            text += gettext("（另有 %(n)d 个其他辖区的停车场）") % {"n": others}
        return text

    @staticmethod
    def _reader(obj):
        return getattr(obj, "_reader", None)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._reader = request.user
        return obj

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: events and sessions keep pointing at the device that sent them

    @admin.display(description=_("可上报停车场"))
    def lots_display(self, obj):
        codes = [lot.code for lot in obj.visible_lots]
        text = "、".join(codes[:5]) + (gettext(" 等 %(n)d 个") % {"n": len(codes)} if len(codes) > 5 else "")
        others = obj.lot_count - len(codes)
        if others:
            text += gettext("（另有 %(n)d 个其他辖区的停车场）") % {"n": others}
        return text

    @admin.display(description=_("状态"), ordering="revoked_at")
    def revoked_display(self, obj):
        return gettext("已吊销") if obj.revoked_at else gettext("有效")

    def save_model(self, request, obj, form, change):
        lots = form.cleaned_data["lots"]
        if change:
            device_change(device=obj, name=obj.name, kind=obj.kind, lots=lots, actor=Actor.from_request(request))
            return
        device, secret = device_issue(name=obj.name, kind=obj.kind, lots=lots, actor=Actor.from_request(request))
        # The admin goes on with ``obj`` (log entry, response): make it the issued device.
        for attr in ("pk", "access_key", "secret_encrypted", "secret_fingerprint", "issued_at"):
            setattr(obj, attr, getattr(device, attr))
        obj._state.adding = False
        request._wxp_issued_secrets = [(device, secret)]

    def save_related(self, request, form, formsets, change):
        # The services above set the lots; saving the form's m2m would drop lots the user can't see.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def response_add(self, request, obj, post_url_continue=None):
        issued = getattr(request, "_wxp_issued_secrets", None)
        if issued:
            return self._secret_page(request, issued, gettext("设备已签发"))
        return super().response_add(request, obj, post_url_continue)

    def _secret_page(self, request, issued, title):
        # Rendered straight into this response, never put in the session or a message cookie:
        # the plain secret exists only here and on the lot system that receives it.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "issued": [{"device": d, "access_key": d.access_key, "secret": s,
                        "json": json.dumps({"access_key": d.access_key, "secret": s})} for d, s in issued],
            "changelist_url": reverse("admin:lots_device_changelist"),
        }
        response = TemplateResponse(request, self.issued_page_template, context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("重新签发密钥"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        issued = []
        for device in self.scoped_objects(request, queryset):
            try:
                issued.append((device, device_rotate_secret(device=device, actor=Actor.from_request(request))))
            except DomainError as exc:
                message_domain_error(self, request, exc, device)
                continue
            device.refresh_from_db(fields=["access_key"])
        if not issued:
            return None
        return self._secret_page(request, issued, gettext("已重新签发密钥，旧密钥立即失效"))

    @admin.action(description=_("吊销"), permissions=["change"])
    def revoke(self, request, queryset):
        count = 0
        for device in self.scoped_objects(request, queryset).filter(revoked_at__isnull=True):
            try:
                device_revoke(device=device, actor=Actor.from_request(request))
            except DomainError as exc:
                message_domain_error(self, request, exc, device)
                continue
            count += 1
        self.message_user(request, gettext("已吊销 %(n)d 个设备的密钥") % {"n": count}, messages.SUCCESS)


# -- outages and free windows --------------------------------------------------------------------
@admin.register(LotOutage)
class LotOutageAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("lot", "region", "started_at", "ended_at", "duration_display")
    list_filter = (OngoingFilter, ("lot__region", admin.RelatedOnlyFieldListFilter), "started_at")
    search_fields = ("lot__code", "lot__name")
    list_select_related = ("lot__region",)
    date_hierarchy = "started_at"
    actions = [export_csv(("lot__code", "lot__name", "lot__region__name", "started_at", "ended_at"),
                          filename="outages")]

    @admin.display(description=_("区域"), ordering="lot__region")
    def region(self, obj):
        return obj.lot.region.name

    @admin.display(description=_("时长"))
    def duration_display(self, obj):
        minutes = int(obj.duration.total_seconds() // 60)
        hours, minutes = divmod(minutes, 60)
        text = gettext("%(h)d小时%(m)d分") % {"h": hours, "m": minutes} if hours else gettext("%(m)d分钟") % {
            "m": minutes}
        return text + ("" if obj.ended_at else gettext("（仍离线）"))


@admin.register(FreeWindow)
class FreeWindowAdmin(ScopedHistoryAdmin):
    list_display = ("name", "starts_at", "ends_at", "region", "lot")
    list_filter = (("region", admin.RelatedOnlyFieldListFilter), "starts_at")
    search_fields = ("name", "lot__code", "lot__name")
    list_select_related = ("region", "lot")
    autocomplete_fields = ("region", "lot")
    date_hierarchy = "starts_at"
    out_of_scope_message = _("请选择本人负责的区域或停车场；全市免费时段由市级管理员设置")

    def save_model(self, request, obj, form, change):
        free_window_save(window=obj, actor=Actor.from_request(request))

    def delete_model(self, request, obj):
        free_window_delete(window=obj, actor=Actor.from_request(request))

    def delete_queryset(self, request, queryset):
        actor = Actor.from_request(request)
        for window in self.scoped_objects(request, queryset):
            free_window_delete(window=window, actor=actor)

