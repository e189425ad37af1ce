"""The admin site's login with a second factor, and the page to enrol one (apps/common/mfa.py);
and the audit entry of every bulk action and deletion staff run in it.

``ParkingAdminSite`` (``admin.site``) asks for a TOTP code at login from staff who have a device and
opens nothing but the enrolment page to staff who must have one and do not.

Saves in the admin go through the apps' services, which write their own audit entries; what the
admin does around them — an action over the selected rows (an export, a bulk close, a resend), a
deletion — is recorded here, once for every registered ModelAdmin: one entry an action run
(``admin.action.<name>``, on the row when it touched one, else listing the rows' ids) and one a
row deleted (``admin.deleted``).
"""

import functools

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import devices_for_user
from django_otp import login as otp_login

from . import mfa


def _token_failed(request, username: str) -> None:
    """A wrong code counts as a failed login: django-axes locks the username and address after a few."""
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


class OTPLoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(label=_("动态验证码"), required=False, max_length=8,
                                widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                              "inputmode": "numeric"}),
                                help_text=_("已绑定验证器的工作人员须填写验证器应用中的 6 位数字"))

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_required": _("请填写验证器应用中的 6 位动态验证码。"),
        "otp_invalid": _("动态验证码不正确或已过期，请重新输入。"),
    }

    def clean(self):
        cleaned = super().clean()  # the password (django-axes counts and locks here)
        user = self.get_user()
        devices = list(devices_for_user(user, confirmed=True)) if user is not None else []
        if devices:
            token = (cleaned.get("otp_token") or "").strip()
            if not token:
                raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
            device = next((d for d in devices if d.verify_token(token)), None)
            if device is None:
                _token_failed(self.request, cleaned.get("username", ""))
                raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
            user.otp_device = device  # django_otp logs the device in with the user (user_logged_in)
        return cleaned


class EnrolForm(forms.Form):
    otp_token = forms.CharField(label=_("动态验证码"), max_length=8,
                                widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                              "inputmode": "numeric", "autofocus": True}))


AUDITED_IDS_MAX = 1000  # the ids an action's entry lists (and how many rows there were in all)


def _record(request, action: str, obj, changes: dict) -> None:
    from apps.audit.services import audit_record

    from .actor import Actor

    audit_record(action=action, actor=Actor.from_request(request), obj=obj, changes=changes)


def _latest_entry() -> int:
    from apps.audit.models import AuditEntry

    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _recorded_since(entry: int, request, object_ids=None) -> set:
    """The objects (ids; ``None`` for an entry on no object) the request's user recorded after ``entry``."""
    from apps.audit.models import AuditEntry

    rows = AuditEntry.objects.filter(pk__gt=entry, actor_id=getattr(request.user, "pk", None))
    if object_ids is not None:
        rows = rows.filter(object_id__in=object_ids)
    return set(rows.values_list("object_id", flat=True))


def _audited_action(func, name: str):
    """One entry an action run, whatever the number of rows (an export of a district's lots stays a
    constant number of queries): on the row itself when there is one, else the rows' ids. An action
    whose service recorded what it did (a lot closed, a key rotated) is not recorded twice."""

    @functools.wraps(func)
    def run(modeladmin, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:AUDITED_IDS_MAX + 1])
        only = queryset.first() if len(ids) == 1 else None
        total = len(ids) if len(ids) <= AUDITED_IDS_MAX else queryset.count()
        before = _latest_entry()
        response = func(modeladmin, request, queryset)
        if not _recorded_since(before, request):
            _record(request, f"admin.action.{name}", only,
                    {"action": [None, name], "model": [None, modeladmin.model._meta.label], "rows": [None, total],
                     "ids": [None, ids[:AUDITED_IDS_MAX]]})
        return response

    return run


def _audit(model_admin) -> None:
    """Wrap one ModelAdmin's actions and deletions with their audit entries. A deletion its service
    recorded already (``berth.deleted``) gets no second entry; any other gets ``admin.deleted``."""
    get_actions = model_admin.get_actions
    delete_model, delete_queryset = model_admin.delete_model, model_admin.delete_queryset

    def audited_actions(request):
        return {name: (_audited_action(func, name) if name != "delete_selected" else func, name, description)
                for name, (func, name, description) in get_actions(request).items()}

    def record_deleted(request, rows, before) -> None:
        recorded = _recorded_since(before, request, [row.pk for row in rows])
        for row in rows:
            if row.pk not in recorded:
                _record(request, "admin.deleted", row, {"object": [str(row)[:200], None]})

    def audited_delete_model(request, obj):
        before, pk = _latest_entry(), obj.pk
        delete_model(request, obj)
        obj.pk = pk  # Model.delete() clears it; the entry names the row that was
        record_deleted(request, [obj], before)

    def audited_delete_queryset(request, queryset):
        rows, before = list(queryset), _latest_entry()
        delete_queryset(request, queryset)
        record_deleted(request, rows, before)

    model_admin.get_actions = audited_actions
    model_admin.delete_model, model_admin.delete_queryset = audited_delete_model, audited_delete_queryset


class ParkingAdminSite(admin.AdminSite):
    login_form = OTPLoginForm
    login_template = "admin/otp_login.html"

    def register(self, model_or_iterable, admin_class=None, **options):
        super().register(model_or_iterable, admin_class, **options)
        models = [model_or_iterable] if isinstance(model_or_iterable, type) else model_or_iterable
        for model in models:
            _audit(self._registry[model])

    def has_permission(self, request):
        return super().has_permission(request) and mfa.satisfied(request)

    def login(self, request, extra_context=None):
        if request.method == "GET" and mfa.needs_enrolment(request):
            return redirect("admin:otp-enrol")
        return super().login(request, extra_context)

    def get_urls(self):
        return [path("otp/enrol/", self.otp_enrol, name="otp-enrol"), *super().get_urls()]

    def otp_enrol(self, request):
        return _otp_enrol(request, site=self)


@never_cache
@csrf_protect
def _otp_enrol(request, *, site):
    """Scan the QR code with an authenticator app (any TOTP app: Google or Microsoft Authenticator,
    FreeOTP…), enter the code it shows: the device is confirmed and this session verified."""
    if not mfa.may_enrol(request):
        return redirect_to_login(request.get_full_path(), reverse("admin:login", current_app=site.name))
    device = mfa.pending_device(request.user)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["otp_token"].strip()):
            mfa.device_confirm(device=device, request=request)
            otp_login(request, device)
            return redirect("admin:index")
        form.add_error("otp_token", _("动态验证码不正确或已过期，请重新输入。"))
    context = {**site.each_context(request), "title": _("绑定动态验证码（双重认证）"), "form": form,
               "qr_svg": mfa.qr_svg(device), "secret": mfa.secret_b32(device),
               "required": mfa.otp_required(request.user)}
    return TemplateResponse(request, "admin/otp_enrol.html", context)
