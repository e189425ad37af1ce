"""Page-number pagination for every list (SPEC §4: ``page``, ``page_size`` up to 1000).

DRF silently falls back to the default size for a nonsensical ``page_size`` and answers 404 for
``page=abc``; a client that typed a wrong parameter is better told so, with the parameter named
(SPEC §1: 400 for bad input). A well-formed page number past the last page, however large, is an
empty page (its ``previous`` the last page), as an ``offset`` past the end of open data is an empty
array: the two ways of paging answer "nothing more" alike, and no number reaches the database.
"""

from __future__ import annotations

from django.core.paginator import Page
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination as _Base
from rest_framework.utils.urls import replace_query_param

from apps.common import messages


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
                {self.page_size_query_param: [messages.integer_rule(1, self.max_page_size)]}
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
        if number > paginator.num_pages:
            self.page = Page([], number, paginator)  # past the end: nothing more
        else:
            self.page = paginator.page(number)
        if paginator.num_pages > 1 and self.template is not None:
            self.display_page_controls = True  # the browsable API's page links
        return list(self.page)

    def get_previous_link(self):
        if self.page.number > self.page.paginator.num_pages and self.page.paginator.num_pages >= 1:
            url = self.request.build_absolute_uri()
            return replace_query_param(url, self.page_query_param, self.page.paginator.num_pages)
        return super().get_previous_link()

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

