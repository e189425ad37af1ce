"""Page-number pagination for every list (SPEC §4: ``page``, ``page_size`` up to 1000).

DRF silently falls back to the default size for a nonsensical ``page_size`` and answers 404 for
``page=abc``; a client that typed a wrong parameter is better told so, with the parameter named
(SPEC §1: 400 for bad input). A page number past the last page stays a 404: the input is well
formed, the page does not exist.
"""

from __future__ import annotations

from django.core.paginator import InvalidPage
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination as _Base

from apps.common.errors import NotFound


class PageNumberPagination(_Base):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    page_query_description = _("页码，从 1 开始。")
    page_size_query_description = _("每页条数，1–1000，默认 50。")

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        size = _int_or_none(raw)
        if size is None or not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [_("须为 1 到 %(max)d 之间的整数") % {"max": self.max_page_size}]}
            )
        return size

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param) or "1"
        if raw in self.last_page_strings:
            return paginator.num_pages
        number = _int_or_none(raw)
        if number is None or number < 1:
            raise exceptions.ValidationError({self.page_query_param: [_("须为不小于 1 的整数或 last")]})
        return number

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        paginator = self.django_paginator_class(queryset, self.get_page_size(request))
        number = self.get_page_number(request, paginator)
        try:
            self.page = paginator.page(number)
        except InvalidPage as exc:
            # Only an out-of-range page gets here (malformed numbers were refused above).
            raise NotFound(_("页码 page=%(page)s 超出范围，共 %(pages)d 页")
                           % {"page": number, "pages": paginator.num_pages}, field=self.page_query_param) from exc
        if paginator.num_pages > 1 and self.template is not None:
            self.display_page_controls = True  # the browsable API's page links
        return list(self.page)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size,
                                       "default": self.page_size}
            elif parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


def _int_or_none(raw: str) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None

