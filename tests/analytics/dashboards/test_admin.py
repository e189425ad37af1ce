"""The targets in the admin: every member of staff reads them, the city sets city-wide ones, a
district officer only their district's; saves go through the service and are audited."""

from __future__ import annotations

import pytest

from apps.analytics.models import Target
from apps.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

LIST = "/admin/analytics/target/"


def test_staff_of_every_kind_read_the_targets_and_open_the_dashboard(client, staff_factory, city):
    from tests.factories import OperatorFactory

    for user in (staff_factory("city"), staff_factory("region", "320213"),
                 staff_factory("operator", OperatorFactory(region=city["320213"]))):
        client.force_login(user)
        assert client.get(LIST).status_code == 200
        assert client.get("/admin/analytics/dashboard/").status_code == 200


def test_a_district_officer_cannot_change_a_city_wide_target(client, officer):
    goal = Target.objects.get(metric="smart", year=2026, region=None)
    client.force_login(officer)
    response = client.post(f"{LIST}{goal.pk}/change/", {"metric": "smart", "year": 2026, "region": "",
                                                        "percent": "10", "basis": "x"})
    assert response.status_code == 403
    assert float(Target.objects.get(pk=goal.pk).percent) == 100.0


def test_the_city_changes_a_target_through_the_service(client, staff_factory):
    goal = Target.objects.get(metric="pay_later", year=2025, region=None)
    client.force_login(staff_factory("city"))
    response = client.post(f"{LIST}{goal.pk}/change/", {"metric": "pay_later", "year": 2025, "region": "",
                                                        "percent": "55.0", "basis": goal.basis, "provisional": ""})
    assert response.status_code == 302, response.content[:2000]
    goal.refresh_from_db()
    assert (float(goal.percent), goal.provisional) == (55.0, False)
    entry = AuditEntry.objects.get(action="target.changed")
    assert entry.changes == {"percent": ["50.0", "55.0"], "provisional": [True, False]}


def test_a_percentage_over_100_is_refused_on_the_form(client, staff_factory):
    client.force_login(staff_factory("city"))
    response = client.post(f"{LIST}add/", {"metric": "smart", "year": 2027, "region": "", "percent": "120",
                                           "basis": ""})
    assert response.status_code == 200 and not Target.objects.filter(year=2027).exists()
