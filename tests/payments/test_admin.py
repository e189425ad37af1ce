"""Money in the admin: scoped through the lots of an order's debts (a cross-region test for every
model), searchable by plate and order number, read-only where money must not be hand-edited; and
the printable sheet of payment codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.payments import services
from apps.payments.models import Order, OrderItem, Payment, PaymentAgreement, PaymentException, Refund
from tests.factories import LotFactory, OperatorFactory, TariffFactory
from tests.factories_payments import FLAT_RULES, AgreementFactory
from tests.factories_sessions import BerthFactory, SessionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.midday]

LX, BH = "320213", "320211"


@pytest.fixture
def lots(city):
    return {code: LotFactory(region=city[code], tariff=TariffFactory(rules=FLAT_RULES)) for code in (LX, BH)}


@pytest.fixture
def officer(staff_factory, client):
    user = staff_factory("region", LX)
    client.force_login(user)
    return user


def _money_of(lot, plate: str, n: int) -> dict:
    """An order for a stay in ``lot`` with its payment, an exception and a refund."""
    now = timezone.now()
    session = SessionFactory(lot=lot, plate=plate)
    order = Order.objects.create(order_no=f"{20260101000000 + n}ABCDEFGHIJKL", channel="sandbox", amount_fen=600,
                                 lot=lot, plate=plate, created_at=now, expires_at=now + timedelta(minutes=15),
                                 state="paid", paid_at=now)
    OrderItem.objects.create(order=order, kind="session", session=session, lot=lot, amount_fen=600, open=False)
    return {
        "order": order,
        "payment": Payment.objects.create(order=order, channel="sandbox", transaction_id=f"T{n}", amount_fen=600,
                                          paid_at=now, created_at=now),
        "paymentexception": PaymentException.objects.create(order=order, channel="sandbox", order_no=order.order_no,
                                                            transaction_id=f"X{n}", problem="paid_twice",
                                                            created_at=now),
        "refund": Refund.objects.create(order=order, refund_no=f"R{n}", amount_fen=100, reason="多收",
                                        created_at=now),
    }


def _changelist(client, model: str, **params):
    response = client.get(reverse(f"admin:payments_{model}_changelist"), params)
    assert response.status_code == 200, response.content[:500]
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize("model", ["order", "payment", "paymentexception", "refund"])
def test_staff_see_only_their_regions_money(client, officer, lots, model):
    mine, theirs = _money_of(lots[LX], "苏B11111", 1), _money_of(lots[BH], "苏B22222", 2)
    assert _changelist(client, model) == [mine[model]]
    change = reverse(f"admin:payments_{model}_change", args=[theirs[model].pk])
    assert client.get(change).status_code == 302  # "does not exist": out of scope


def test_city_staff_see_every_region(client, staff_factory, lots):
    client.force_login(staff_factory("city"))
    _money_of(lots[LX], "苏B11111", 1), _money_of(lots[BH], "苏B22222", 2)
    assert len(_changelist(client, "order")) == 2


def test_an_exception_without_an_order_is_for_city_staff(client, officer, staff_factory, lots):
    PaymentException.objects.create(channel="sandbox", order_no="NOPE", transaction_id="T", problem="unknown_order",
                                    created_at=timezone.now())
    assert _changelist(client, "paymentexception") == []
    client.force_login(staff_factory("city"))
    assert len(_changelist(client, "paymentexception")) == 1


def test_an_operators_staff_see_their_lots_money_only(client, staff_factory, city):
    operator = OperatorFactory()
    own = LotFactory(region=city[LX], operator=operator)
    other = LotFactory(region=city[LX])
    mine, _theirs = _money_of(own, "苏B11111", 1), _money_of(other, "苏B22222", 2)
    client.force_login(staff_factory("operator", operator))
    assert _changelist(client, "order") == [mine["order"]]


def test_orders_are_found_by_plate_and_number_and_filtered_by_unpaid(client, officer, lots):
    paid = _money_of(lots[LX], "苏B11111", 1)["order"]
    unpaid = _money_of(lots[LX], "苏B33333", 3)["order"]
    Order.objects.filter(pk=unpaid.pk).update(state="created")
    assert _changelist(client, "order", q="苏b·11111") == [paid]
    assert _changelist(client, "order", q=unpaid.order_no) == [unpaid]
    assert _changelist(client, "order", paid="no") == [unpaid]


def test_money_is_read_only(client, officer, lots):
    order = _money_of(lots[LX], "苏B11111", 1)["order"]
    url = reverse("admin:payments_order_change", args=[order.pk])
    response = client.post(url, {"amount_fen": 1})
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.amount_fen == 600
    assert client.get(reverse("admin:payments_order_add")).status_code == 403


def test_staff_close_an_exception_with_what_they_did_and_it_is_audited(client, officer, lots):
    exception = _money_of(lots[LX], "苏B11111", 1)["paymentexception"]
    assert _changelist(client, "paymentexception", state__exact="open") == [exception]
    url = reverse("admin:payments_paymentexception_change", args=[exception.pk])
    response = client.post(url, {"resolution": "已原路退款"})
    assert response.status_code == 302, response.content[:800]
    exception.refresh_from_db()
    assert (exception.state, exception.resolution, exception.resolved_by) == ("resolved", "已原路退款", officer)
    assert AuditEntry.objects.filter(action="payment_exception.resolved", actor=officer).count() == 1
    with pytest.raises(Exception):  # noqa: B017  # a DomainError: resolved already
        services.exception_resolve(exception=exception, actor=officer, resolution="again")


def test_agreements_are_searchable_by_plate(client, staff_factory):
    client.force_login(staff_factory("city"))
    agreement = AgreementFactory(plate="苏B12345")
    AgreementFactory(plate="苏B54321")
    assert _changelist(client, "paymentagreement", q="苏B 12345") == [agreement]
    assert PaymentAgreement.objects.count() == 2


def test_the_sheet_has_a_code_for_the_lot_and_each_on_street_berth(client, officer, city):
    lot = LotFactory(region=city[LX], kind="on_street", zone_class="core", road_class="arterial")
    BerthFactory(lot=lot, code="B001")
    BerthFactory(lot=lot, code="B002")
    response = client.get(reverse("admin:payments_paycodelot_sheet", args=[lot.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('class="paycode"') == 3 and page.count("<svg") >= 3
    assert f"http://testserver/pay/{lot.code}/" in page
    assert f"http://testserver/pay/{lot.code}/?berth=B002" in page
    assert lot.name in page and lot.code in page


def test_the_sheet_of_another_regions_lot_is_not_there(client, officer, lots):
    response = client.get(reverse("admin:payments_paycodelot_sheet", args=[lots[BH].pk]))
    assert response.status_code == 302
    assert [lot.pk for lot in _changelist(client, "paycodelot")] == [lots[LX].pk]


def test_a_printed_code_opens_the_lots_pay_page(client, lots):
    lot = lots[LX]
    response = client.get(f"/pay/{lot.code}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert lot.name in page and 'id="plate"' in page
    assert "cdn" not in page.lower()
    assert client.get("/pay/NOPE-LOT/").status_code == 404


def test_an_operators_agreements_are_its_own_and_city_wide_ones_are_shared(client, staff_factory, city):
    ours, theirs = OperatorFactory(), OperatorFactory()
    own = AgreementFactory(plate="苏B11111", operator=ours)
    AgreementFactory(plate="苏B22222", operator=theirs)
    shared = AgreementFactory(plate="苏B33333")
    client.force_login(staff_factory("operator", ours))
    assert set(_changelist(client, "paymentagreement")) == {own, shared}
