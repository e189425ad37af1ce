"""The money admin: scoped by the one mechanism (an operator's staff see their lots' money only,
a district's staff their district's), searchable by plate and order number, filtered by the
questions staff ask, and saving through the services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.models import AuditEntry
from apps.payments import recovery, refunds, settlement
from apps.payments.models import Blacklist, Refund, ReminderRule, Statement
from tests.factories import OperatorFactory
from tests.factories_money import PolicyFactory, RuleFactory, arrears_of, paid_order
from tests.factories_payments import Gate, flat_lot, stay_waiting

pytestmark = [pytest.mark.django_db, pytest.mark.midday]

LX, BH = "320213", "320211"


@pytest.fixture
def money(city):
    """Two operators' lots in two districts, each with a paid order, a refund awaiting approval,
    old arrears that are blacklisted, and a revenue statement."""
    PolicyFactory(refund_approval_over_fen=0)
    RuleFactory(action=ReminderRule.Action.BLACKLIST, after_days=1)
    found = {}
    for code, plate in ((LX, "苏B11111"), (BH, "苏B22222")):
        operator = OperatorFactory()
        gate = Gate(flat_lot(region=city[code], operator=operator))
        order = paid_order(stay_waiting(gate, plate))
        asker = _staff_for(city, code)
        refund = refunds.refund_request(order=order, amount_fen=100, reason="多收", actor=asker)
        arrears_of(gate, plate.replace("B", "E"), days_ago=40)
        found[code] = {"operator": operator, "order": order, "refund": refund}
    recovery.reminders_run()
    for code in found:
        found[code]["statement"] = settlement.statement_build(operator=found[code]["operator"], kind="revenue",
                                                              period_start=settlement.period_of("revenue", _today())[0])
    return found


def _today():
    from django.utils import timezone

    return timezone.localdate()


_made = {}


def _staff_for(city, code):
    from apps.regions.models import StaffScope
    from apps.regions.services import staff_grant_default_permissions
    from tests.factories import UserFactory

    user = UserFactory(is_staff=True)
    StaffScope.objects.create(user=user, kind="region", region=city[code])
    staff_grant_default_permissions(user=user)
    return user


def _changelist(client, model: str, **params):
    response = client.get(reverse(f"admin:payments_{model}_changelist"), params)
    assert response.status_code == 200, response.content[:500]
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize("model", ["refund", "statement", "blacklist", "recoveryarrears", "agreementcharge",
                                   "paymentagreement", "moneypolicy", "reminderrule", "arrearsreminder",
                                   "arrearslisting"])
def test_every_money_list_opens(client, money, staff_factory, model):
    client.force_login(staff_factory("city"))
    _changelist(client, model)


def test_an_operators_staff_see_their_lots_money_only(client, money, staff_factory):
    client.force_login(staff_factory("operator", money[LX]["operator"]))
    assert _changelist(client, "refund") == [money[LX]["refund"]]
    assert _changelist(client, "statement") == [money[LX]["statement"]]
    assert [b.operator for b in _changelist(client, "blacklist")] == [money[LX]["operator"]]
    assert {a.plate for a in _changelist(client, "recoveryarrears")} == {"苏E11111"}
    theirs = money[BH]["refund"]
    assert client.get(reverse("admin:payments_refund_change", args=[theirs.pk])).status_code == 302  # not found


def test_a_districts_staff_see_their_district_only(client, money, staff_factory):
    client.force_login(staff_factory("region", BH))
    assert _changelist(client, "refund") == [money[BH]["refund"]]
    assert _changelist(client, "statement") == [money[BH]["statement"]]
    assert {a.plate for a in _changelist(client, "recoveryarrears")} == {"苏E22222"}


def test_search_by_plate_and_order_number_and_the_filters(client, money, staff_factory):
    client.force_login(staff_factory("city"))
    order = money[LX]["order"]
    assert _changelist(client, "refund", q=order.order_no) == [money[LX]["refund"]]
    assert _changelist(client, "refund", q="苏b·11111") == [money[LX]["refund"]]
    assert len(_changelist(client, "refund", awaiting="yes")) == 2
    assert {a.plate for a in _changelist(client, "recoveryarrears", overdue="30")} == {"苏E11111", "苏E22222"}
    assert _changelist(client, "statement", q=order.order_no) == [money[LX]["statement"]]
    assert len(_changelist(client, "statement", period_start__year=str(_today().year))) == 2


def test_approving_across_regions_is_refused_and_in_region_is_done(client, money, staff_factory):
    outsider = staff_factory("region", BH)
    client.force_login(outsider)
    ours = money[LX]["refund"]
    url = reverse("admin:payments_refund_changelist")
    client.post(url, {"action": "approve", "_selected_action": [ours.pk]})
    assert Refund.objects.get(pk=ours.pk).state == "requested"
    approver = staff_factory("region", LX)
    client.force_login(approver)
    client.post(url, {"action": "approve", "_selected_action": [ours.pk]})
    assert Refund.objects.get(pk=ours.pk).approved_by == approver


def test_staff_lift_a_flag_on_its_page_with_a_reason(client, money, staff_factory):
    flag = Blacklist.objects.get(operator=money[LX]["operator"])
    officer = staff_factory("operator", money[LX]["operator"])
    client.force_login(officer)
    url = reverse("admin:payments_blacklist_change", args=[flag.pk])
    response = client.post(url, {"lift_reason": ""})
    assert response.status_code == 200 and Blacklist.objects.get(pk=flag.pk).state == "active"
    client.post(url, {"lift_reason": "分期还款"})
    assert Blacklist.objects.get(pk=flag.pk).state == "lifted"
    assert AuditEntry.objects.filter(action="blacklist.lifted", actor=officer).exists()
    other = Blacklist.objects.get(operator=money[BH]["operator"])
    client.post(reverse("admin:payments_blacklist_change", args=[other.pk]), {"lift_reason": "x"})
    assert Blacklist.objects.get(pk=other.pk).state == "active"


def test_exporting_a_statement_from_the_admin(client, money, staff_factory):
    officer = staff_factory("operator", money[LX]["operator"])
    client.force_login(officer)
    statement = money[LX]["statement"]
    response = client.post(reverse("admin:payments_statement_changelist"),
                           {"action": "export_xlsx", "_selected_action": [statement.pk]})
    assert response.status_code == 200 and response["Content-Disposition"].endswith('.xlsx"')
    assert AuditEntry.objects.filter(action="statement.exported", actor=officer).count() == 1
    theirs = money[BH]["statement"]
    response = client.post(reverse("admin:payments_statement_changelist"),
                           {"action": "export_csv", "_selected_action": [theirs.pk]})
    assert AuditEntry.objects.filter(action="statement.exported").count() == 1
    assert Statement.objects.count() == 2


def test_a_district_sets_its_own_refund_threshold_but_not_the_citys_rates(client, city, staff_factory):
    from apps.payments.models import MoneyPolicy

    officer = staff_factory("region", LX)
    client.force_login(officer)
    url = reverse("admin:payments_moneypolicy_add")
    form = {"region": city[LX].pk, "valid_from": "2026-01-01", "refund_approval_over_fen": "500",
            "service_fee_bp": "100", "recovery_incentive_bp": "", "note": ""}
    response = client.post(url, form)
    assert response.status_code == 200 and not MoneyPolicy.objects.exists()  # shown again with the error
    form["service_fee_bp"] = ""
    client.post(url, form)
    assert MoneyPolicy.objects.get().refund_approval_over_fen == 500
    form["region"] = ""
    client.post(url, {**form, "valid_from": "2026-02-01"})  # the city's row is not a district's to set
    assert MoneyPolicy.objects.count() == 1
