"""Filters of the staff ticket list: the questions supervisors ask (which state, which category,
on time or overdue, which region). A malformed value is a 400 naming the parameter."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from apps.common import messages
from apps.lots.api.filters import RegionFilter, _documented

from .. import workflow
from ..models import Channel, Ticket
from ..selectors import punctuality_q

PUNCTUALITY = (("on_time", _("按时办结")), ("late", _("超时办结")), ("overdue", _("已超期未办结")))


def _choice(choices, help_text, **kwargs):
    return filters.ChoiceFilter(choices=choices, help_text=help_text,
                                error_messages={"invalid_choice": messages.one_of_rule(choices)}, **kwargs)


class TicketFilter(filters.FilterSet):
    state = _choice(workflow.STATES, _("状态"))
    channel = _choice(Channel.choices, _("来源"))
    category = filters.CharFilter(field_name="category__code", max_length=32, help_text=_("类别代码"))
    punctuality = _choice(PUNCTUALITY, _("时效：on_time 按时办结，late 超时办结，overdue 已超期未办结"),
                          method="filter_punctuality")
    region = _documented(RegionFilter(method="filter_region", help_text=_("区域代码；上级区域包含其下辖区域")))
    q = filters.CharFilter(method="filter_q", max_length=32, help_text=_("工单号、来电号码或车牌（完整匹配）"),
                           error_messages={"max_length": messages.rule(messages.TOO_LONG, max=32)})

    class Meta:
        model = Ticket
        fields: list[str] = []

    def filter_punctuality(self, queryset, name, value):
        return queryset.filter(punctuality_q(value, now=timezone.now()))

    def filter_region(self, queryset, name, value):
        return queryset.filter(region_id__in=value)

    def filter_q(self, queryset, name, value):
        from apps.common import plates

        value = value.strip()
        try:
            plate = plates.validate(value)
        except plates.PlateError:
            plate = value
        return queryset.filter(Q(ticket_no=value.upper()) | Q(phone=value) | Q(plate=plate))
