"""Data-quality supervision (issue 11 item 1): the rules staff tune, the cases the rules raise and
each case's changes. A case is one episode of one rule at one lot: the partial unique constraint
allows one case per lot and rule whose cause has not ended, so a rule never raises an episode twice."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from apps.common.scope import ScopedQuerySet, ScopePaths

from ..supervision import rules, workflow


class SupervisionRule(models.Model):
    """One rule's switch and numbers (a row per rule; ``rules.MEANINGS`` says what each column
    means for it). Every case copies the numbers in force when it was raised into its evidence."""

    code = models.CharField(_("规则"), max_length=24, choices=rules.CODES, unique=True)
    enabled = models.BooleanField(_("启用"), default=True)
    window_minutes = models.PositiveIntegerField(_("时段（分钟）"), default=60)
    threshold = models.FloatField(_("阈值"), default=0, validators=[MinValueValidator(0)])
    ratio = models.FloatField(_("比例"), default=0, validators=[MinValueValidator(0), MaxValueValidator(1)])
    minimum = models.PositiveIntegerField(_("最少数据量"), default=0)
    history_days = models.PositiveSmallIntegerField(_("历史天数"), default=28)
    due_hours = models.PositiveIntegerField(_("处置时限（小时）"), default=72, validators=[MinValueValidator(1)],
                                            help_text=_("立案后多少小时内须结案，超过即为超期"))
    quiet_hours = models.PositiveIntegerField(
        _("自动结案静默期（小时）"), default=24,
        help_text=_("问题消除后持续这么久未再出现即自动结案；0 表示只能人工结案"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("督查规则")
        verbose_name_plural = pgettext_lazy("plural", "督查规则")

    def __str__(self) -> str:
        return rules.label(self.code)

    def numbers(self) -> dict:
        """The columns this rule reads, as they are now (copied into each case's evidence)."""
        return {name: getattr(self, name) for name in rules.MEANINGS.get(self.code, {})}


class CaseQuerySet(ScopedQuerySet):
    def active(self):
        return self.filter(state__in=workflow.ACTIVE_STATES)

    def overdue(self, *, now):
        return self.active().filter(due_at__lt=now)


class SupervisionCase(models.Model):
    """督查案件: one rule found one lot at fault, from ``raised_at`` until ``ended_at`` (the cause's
    end, set by the rule's next run that no longer finds it); staff assign, work and close it."""

    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.PROTECT,
                            related_name="supervision_cases")
    rule = models.ForeignKey(SupervisionRule, verbose_name=_("规则"), on_delete=models.PROTECT, related_name="cases")
    state = models.CharField(_("状态"), max_length=12, choices=workflow.STATES, default=workflow.OPEN)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("承办人"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    raised_at = models.DateTimeField(_("立案时间"))
    last_detected_at = models.DateTimeField(_("最近发现"), help_text=_("规则最近一次仍发现该问题的时间"))
    ended_at = models.DateTimeField(_("问题消除时间"), null=True, blank=True)
    due_at = models.DateTimeField(_("处置时限"))
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    evidence = models.JSONField(_("证据"), default=dict)
    last_change = models.ForeignKey("CaseChange", verbose_name=_("最近变更"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")

    objects = CaseQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        ordering = ["-raised_at", "-pk"]
        verbose_name = _("督查案件")
        verbose_name_plural = pgettext_lazy("plural", "督查案件")
        constraints = [
            models.UniqueConstraint(fields=["lot", "rule"], condition=Q(ended_at__isnull=True),
                                    name="one_open_case_per_lot_rule"),
        ]
        indexes = [
            models.Index(fields=["state", "due_at"], name="supcase_state_due"),
            models.Index(fields=["rule", "ended_at"], name="supcase_rule_ended"),
        ]

    def __str__(self) -> str:
        return _("督查#{pk}").format(pk=self.pk)

    @property
    def cause_ended(self) -> bool:
        return self.ended_at is not None


class CaseChange(models.Model):
    """One change to a case: raised, the cause ended, a move, an assignment, a note. The rows are
    the case's history (who, when, what); the case points at the newest."""

    class Kind(models.TextChoices):
        RAISED = "raised", _("立案")
        CAUSE_ENDED = "cause_ended", _("问题消除")
        STATE = "state", _("状态变更")
        ASSIGNED = "assigned", _("指派")
        NOTE = "note", _("备注")
        AUTO_CLOSED = "auto_closed", _("自动结案")

    case = models.ForeignKey(SupervisionCase, verbose_name=_("督查案件"), on_delete=models.CASCADE,
                             related_name="changes")
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    from_state = models.CharField(_("原状态"), max_length=12, choices=workflow.STATES, blank=True)
    state = models.CharField(_("状态"), max_length=12, choices=workflow.STATES)
    note = models.TextField(_("说明"), blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("承办人"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("时间"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="case__lot__region", operator="case__lot__operator")

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("督查案件记录")
        verbose_name_plural = pgettext_lazy("plural", "督查案件记录")

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.state}"
