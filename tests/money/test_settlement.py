"""Settlement: statements per operator per period, built idempotently from payments and refunds;
cross-region recovery incentives; the half-yearly service fee of government lots; exports that
parse back; reconciliation that finds every kind of difference."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.common import citizens
from apps.payments import refunds, sandbox, settlement
from apps.payments.models import Statement
from apps.payments.money_errors import InvalidPeriod, PolicyMissing
from apps.payments.providers.base import StatementRow
from apps.regions.models import Operator, Region
from tests.factories import OperatorFactory, UserFactory
from tests.factories_money import PolicyFactory, arrears_of, paid_arrears_order, paid_order
from tests.factories_payments import Gate, flat_lot, stay_waiting

pytestmark = [pytest.mark.django_db, pytest.mark.midday]

Kind = Statement.Kind


def _month() -> date:
    return timezone.localdate().replace(day=1)


@pytest.fixture
def bound():
    citizens.register_bound_plates(lambda user: ["苏B12345", "苏B22222"])
    yield UserFactory()
    citizens.register_bound_plates(None)


def test_every_paid_fen_is_the_lot_operators_and_rebuilding_changes_nothing(city, staff_factory,
                                                                            django_capture_on_commit_callbacks):
    PolicyFactory(refund_approval_over_fen=10_000)
    ours, theirs = OperatorFactory(), OperatorFactory()
    order = paid_order(stay_waiting(Gate(flat_lot(operator=ours))))
    paid_order(stay_waiting(Gate(flat_lot(operator=theirs)), "苏B22222"))
    with django_capture_on_commit_callbacks(execute=True):
        refunds.refund_request(order=order, amount_fen=100, reason="多收", actor=staff_factory("city"))
    first = settlement.statement_build(operator=ours, kind=Kind.REVENUE, period_start=_month())
    assert (first.paid_fen, first.refunded_fen, first.net_fen) == (600, 100, 500)
    assert sorted(first.lines.values_list("kind", "amount_fen")) == [("payment", 600), ("refund", -100)]
    again = settlement.statement_build(operator=ours, kind=Kind.REVENUE, period_start=_month())
    assert again.pk == first.pk and again.lines.count() == 2 and again.net_fen == 500
    assert Statement.objects.count() == 1
    other = settlement.statement_build(operator=theirs, kind=Kind.REVENUE, period_start=_month())
    assert (other.paid_fen, other.net_fen) == (600, 600)


def test_arrears_collected_through_another_regions_code_earn_it_the_incentive(city, bound):
    PolicyFactory(recovery_incentive_bp=1000)  # 10 %
    owed_op, collecting_op = OperatorFactory(), OperatorFactory()
    owed_lot = flat_lot(operator=owed_op)  # 梁溪
    collecting_lot = flat_lot(operator=collecting_op, region=Region.objects.get(code="320211"))  # 滨湖
    same_region_lot = flat_lot(operator=collecting_op)
    arrears = arrears_of(Gate(owed_lot), "苏B12345")  # 600 fen
    near = arrears_of(Gate(owed_lot), "苏B22222")
    paid_arrears_order([arrears], user=bound, lot_id=collecting_lot.pk)
    paid_arrears_order([near], user=bound, lot_id=same_region_lot.pk)  # same region: no incentive
    owed = settlement.statement_build(operator=owed_op, kind=Kind.REVENUE, period_start=_month())
    collecting = settlement.statement_build(operator=collecting_op, kind=Kind.REVENUE, period_start=_month())
    assert (owed.paid_fen, owed.incentive_out_fen, owed.net_fen) == (1200, 60, 1140)
    assert (collecting.paid_fen, collecting.incentive_in_fen, collecting.net_fen) == (0, 60, 60)
    line = owed.lines.get(kind="incentive_out")
    assert (line.region.code, line.base_fen, line.rate_bp) == ("320211", 600, 1000)


def test_the_service_fee_is_billed_half_yearly_on_government_lots(city):
    PolicyFactory(service_fee_bp=1250)
    government = OperatorFactory(ownership=Operator.Ownership.GOVERNMENT)
    paid_order(stay_waiting(Gate(flat_lot(operator=government))))
    paid_order(stay_waiting(Gate(flat_lot(operator=government)), "苏B22222", minutes=30))
    half = settlement.period_of(Kind.SERVICE_FEE, timezone.localdate())
    fee = settlement.statement_build(operator=government, kind=Kind.SERVICE_FEE, period_start=half[0])
    assert (fee.period_end - fee.period_start).days in (181, 182, 184)
    assert (fee.net_fen, fee.rate_bp, fee.service_fee_fen) == (800, 1250, 75 + 25)
    with pytest.raises(InvalidPeriod) as caught:
        settlement.statement_build(operator=OperatorFactory(), kind=Kind.SERVICE_FEE, period_start=half[0])
    assert caught.value.code == "not_government"
    with pytest.raises(InvalidPeriod):
        settlement.statement_build(operator=government, kind=Kind.SERVICE_FEE, period_start=half[0] + timedelta(1))


def test_a_fee_without_a_rate_is_refused(city):
    government = OperatorFactory(ownership=Operator.Ownership.GOVERNMENT)
    paid_order(stay_waiting(Gate(flat_lot(operator=government))))
    with pytest.raises(PolicyMissing):
        settlement.statement_build(operator=government, kind=Kind.SERVICE_FEE,
                                   period_start=settlement.period_of(Kind.SERVICE_FEE, timezone.localdate())[0])
    assert not Statement.objects.exists()


def test_a_district_sets_its_refund_threshold_and_the_rates_are_the_citys():
    from django.db import IntegrityError, transaction

    PolicyFactory(service_fee_bp=500, refund_approval_over_fen=1000)
    region = Region.objects.create(code="320299", name="测试区", level=Region.Level.DISTRICT)
    with pytest.raises(IntegrityError), transaction.atomic():
        PolicyFactory(region=region, service_fee_bp=100, recovery_incentive_bp=None)
    PolicyFactory(region=region, service_fee_bp=None, recovery_incentive_bp=None, refund_approval_over_fen=50)
    assert settlement.policy_value("refund_approval_over_fen", region_id=region.pk) == 50
    assert settlement.policy_value("service_fee_bp", region_id=region.pk) == 500  # blank: the city's
    assert settlement.policy_value("refund_approval_over_fen", region_id=None) == 1000
    assert settlement.policy_value("refund_approval_over_fen", region_id=None, on=date(2019, 1, 1)) is None


def test_exports_parse_back_and_leave_an_audit_trail(city, staff_factory):
    operator = OperatorFactory(name="=HYPERLINK(evil)")
    order = paid_order(stay_waiting(Gate(flat_lot(operator=operator))))
    statement = settlement.statement_build(operator=operator, kind=Kind.REVENUE, period_start=_month())
    officer = staff_factory("operator", operator)
    name, content, content_type = settlement.statement_export(statement=statement, fmt="csv", actor=officer)
    assert name.endswith(".csv") and content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ["经营单位", "'=HYPERLINK(evil)"]
    header = rows.index(settlement.LINE_HEADER)
    assert [(r[0], r[3], int(r[9])) for r in rows[header + 1:]] == [("收款", order.order_no, 600)]
    name, content, _type = settlement.statement_export(statement=statement, fmt="xlsx", actor=officer)
    book = openpyxl.load_workbook(io.BytesIO(content))
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True)}
    assert summary["净额（分）"] == 600
    lines = list(book["明细"].iter_rows(values_only=True))
    assert list(lines[0]) == settlement.LINE_HEADER and lines[1][3] == order.order_no and lines[1][9] == 600
    assert AuditEntry.objects.filter(action="statement.exported", actor=officer).count() == 2
    with pytest.raises(InvalidPeriod):
        settlement.statement_export(statement=statement, fmt="pdf", actor=officer)


def _day_bounds():
    today = timezone.localdate()
    return settlement._bounds(today, today + timedelta(days=1))


def test_reconciliation_finds_every_kind_of_difference(city, staff_factory, django_capture_on_commit_callbacks):
    PolicyFactory(refund_approval_over_fen=10_000)
    gate = Gate(flat_lot())
    fine = paid_order(stay_waiting(gate, "苏B11111"))
    ours_only = paid_order(stay_waiting(gate, "苏B22222"))
    wrong_amount = paid_order(stay_waiting(gate, "苏B33333"))
    refunded = paid_order(stay_waiting(gate, "苏B44444"))
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.refund_request(order=refunded, amount_fen=100, reason="多收", actor=staff_factory("city"))
    refund.refresh_from_db()
    assert refund.state == "succeeded"
    start, end = _day_bounds()
    rows = settlement_rows(sandbox.statement_csv(start=start, end=end))
    rows = [r for r in rows if r.order_no != ours_only.order_no]  # the gateway does not list it
    rows = [StatementRow(r.order_no, r.transaction_id, 599 if r.order_no == wrong_amount.order_no else r.amount_fen,
                         r.kind, r.at, r.refund_no) for r in rows if r.kind == StatementRow.PAYMENT]  # refund dropped
    rows.append(StatementRow("UNKNOWN", "SBX-STRANGER", 300, StatementRow.PAYMENT, timezone.now()))
    rows.append(StatementRow(fine.order_no, "SBR-X", 50, StatementRow.REFUND, timezone.now(), refund_no="R-NOT-OURS"))
    found = {(d.kind, d.order_no) for d in settlement.reconcile(channel="sandbox", rows=rows)}
    assert found == {("missing_there", ours_only.order_no), ("amount_mismatch", wrong_amount.order_no),
                     ("missing_here", "UNKNOWN"), ("refund_missing_there", refunded.order_no),
                     ("refund_missing_here", fine.order_no)}


def settlement_rows(text: str):
    from apps.payments import providers

    return providers.get("sandbox").parse_statement(text.encode("utf-8"))


def test_the_command_compares_a_statement_file(city, tmp_path, capsys):
    paid_order(stay_waiting(Gate(flat_lot())))
    start, end = _day_bounds()
    agreed = tmp_path / "sandbox.csv"
    agreed.write_text(sandbox.statement_csv(start=start, end=end), encoding="utf-8")
    call_command("payments_reconcile", "--channel", "sandbox", "--file", str(agreed))
    assert '"differences": 0' in capsys.readouterr().out
    paid_order(stay_waiting(Gate(flat_lot()), "苏B22222"))  # not in the file
    with pytest.raises(SystemExit) as exit_:
        call_command("payments_reconcile", "--channel", "sandbox", "--file", str(agreed))
    assert exit_.value.code == 1 and "missing_there" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("payments_reconcile", "--channel", "sandbox", "--file", str(bad))
    with pytest.raises(CommandError):
        call_command("payments_reconcile", "--channel", "nope", "--file", str(agreed))
