"""Settlement: every paid fen belongs to the operator of the lot its debt was owed at (清缴至停车场
主体账户不变). Statements per operator per period, built idempotently from payments and refunds;
the platform's half-yearly service fee on government lots' revenue (每半年度); cross-region
recovery incentives (建立合作欠费追缴激励机制); exports with an audit trail; and reconciliation of
our paid orders against a gateway's statement file.

Rates come from ``MoneyPolicy`` rows in force on the day a payment was made (the incentive) or on
the last day of the fee's half year, so a later change of a rate rebuilds nothing differently.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.regions.models import Operator

from .models import (
    BASIS_POINTS,
    MoneyPolicy,
    Order,
    OrderItem,
    Payment,
    Refund,
    Statement,
    StatementLine,
)
from .money_errors import InvalidPeriod, PolicyMissing
from .providers.base import StatementRow

Kind = Statement.Kind
Line = StatementLine.Kind
POLICY_FIELDS = ("refund_approval_over_fen", "service_fee_bp", "recovery_incentive_bp")


# -- the rules in force -----------------------------------------------------------------------------

class Policies:
    """``MoneyPolicy`` rows read once, answering a value for a region on a day: the region's newest
    row in force that sets it, else the city's."""

    def __init__(self):
        self.rows = list(MoneyPolicy.objects.order_by("-valid_from").values("region_id", "valid_from", *POLICY_FIELDS))

    def value(self, name: str, *, region_id: int | None, on: date) -> int | None:
        for scope in ((region_id, None) if region_id is not None else (None,)):
            for row in self.rows:
                if row["region_id"] == scope and row["valid_from"] <= on and row[name] is not None:
                    return row[name]
        return None


def policy_value(name: str, *, region_id: int | None, on: date | None = None) -> int | None:
    return Policies().value(name, region_id=region_id, on=on or timezone.localdate())


def share(base_fen: int, rate_bp: int) -> int:
    """``rate_bp`` basis points of ``base_fen``, rounded down to the fen (never a float)."""
    return base_fen * rate_bp // BASIS_POINTS


# -- periods ------------------------------------------------------------------------------------------

def period_of(kind: str, day: date) -> tuple[date, date]:
    """The statement period holding ``day``: its month (revenue) or its half year (service fee)."""
    if kind == Kind.REVENUE:
        start = day.replace(day=1)
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    elif kind == Kind.SERVICE_FEE:
        start = date(day.year, 1 if day.month <= 6 else 7, 1)
        end = date(day.year, 7, 1) if start.month == 1 else date(day.year + 1, 1, 1)
    else:
        raise InvalidPeriod(_("未知的结算单类型：%(kind)s") % {"kind": kind}, field="kind")
    return start, end


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return datetime.combine(start, time.min, tz), datetime.combine(end, time.min, tz)


# -- building -------------------------------------------------------------------------------------------

@dataclass
class _Booked:
    kind: str
    lot_id: int
    amount_fen: int
    at: datetime
    order_id: int | None = None
    refund_id: int | None = None
    region_id: int | None = None
    channel: str = ""
    base_fen: int = 0
    rate_bp: int | None = None


def _revenue(operator_id: int, start: datetime, end: datetime, policies: Policies) -> list[_Booked]:
    booked: list[_Booked] = []
    payments = {p.order_id: p for p in Payment.objects.filter(paid_at__gte=start, paid_at__lt=end)}
    items = (OrderItem.objects.filter(order_id__in=list(payments), order__state__in=Order.PAID_STATES)
             .select_related("order__lot", "lot"))
    for item in items:
        payment = payments[item.order_id]
        collector = item.order.lot
        cross = (item.kind == OrderItem.Kind.ARREARS and collector is not None
                 and collector.region_id != item.lot.region_id)
        if item.lot.operator_id == operator_id:
            booked.append(_Booked(Line.PAYMENT, item.lot_id, item.amount_fen, payment.paid_at, order_id=item.order_id,
                                  channel=payment.channel, base_fen=item.amount_fen))
        if not cross:
            continue
        rate = policies.value("recovery_incentive_bp", region_id=None,
                              on=timezone.localtime(payment.paid_at).date()) or 0
        incentive = share(item.amount_fen, rate)
        if incentive <= 0:
            continue
        common = {"at": payment.paid_at, "order_id": item.order_id, "region_id": collector.region_id,
                  "channel": payment.channel, "base_fen": item.amount_fen, "rate_bp": rate}
        if item.lot.operator_id == operator_id:
            booked.append(_Booked(Line.INCENTIVE_OUT, item.lot_id, -incentive, **common))
        if collector.operator_id == operator_id:
            booked.append(_Booked(Line.INCENTIVE_IN, collector.pk, incentive, **common))
    refunds = Refund.objects.filter(state=Refund.State.SUCCEEDED, completed_at__gte=start, completed_at__lt=end,
                                    item__lot__operator_id=operator_id).select_related("item", "order")
    for refund in refunds:
        booked.append(_Booked(Line.REFUND, refund.item.lot_id, -refund.amount_fen, refund.completed_at,
                              order_id=refund.order_id, refund_id=refund.pk, channel=refund.order.channel,
                              base_fen=refund.amount_fen))
    return booked


def _service_fee(operator: Operator, start_day: date, end_day: date, start: datetime, end: datetime,
                 policies: Policies) -> list[_Booked]:
    by_lot: dict[int, int] = defaultdict(int)
    for line in _revenue(operator.pk, start, end, policies):
        if line.kind in (Line.PAYMENT, Line.REFUND):
            by_lot[line.lot_id] += line.amount_fen
    last_day = end_day - timedelta(days=1)
    booked = []
    for lot_id, base in sorted(by_lot.items()):
        rate = policies.value("service_fee_bp", region_id=None, on=last_day)  # the city's rate
        if rate is None:
            raise PolicyMissing(_("尚未设置 %(day)s 起适用的平台服务费率") % {"day": last_day}, field="service_fee_bp")
        booked.append(_Booked(Line.SERVICE_FEE, lot_id, share(max(base, 0), rate), end - timedelta(microseconds=1),
                              base_fen=base, rate_bp=rate))
    return booked


def statement_build(*, operator: Operator, kind: str, period_start: date, actor=None,
                    now: datetime | None = None) -> Statement:
    """Build (or rebuild) the operator's statement for the period starting ``period_start``: the
    same payments and refunds always give the same lines and totals. The service fee is billed
    only to government operators, per half year."""
    start_day, end_day = period_of(kind, period_start)
    if start_day != period_start:
        raise InvalidPeriod(_("结算期间须从 %(start)s 开始") % {"start": start_day}, field="period_start",
                            details={"period_start": start_day.isoformat()})
    if kind == Kind.SERVICE_FEE and operator.ownership != Operator.Ownership.GOVERNMENT:
        raise InvalidPeriod(_("平台服务费只向政府停车场的经营单位结算"), code="not_government", field="operator")
    now = now or timezone.now()
    start, end = _bounds(start_day, end_day)
    policies = Policies()
    with transaction.atomic():
        statement, _created = Statement.objects.get_or_create(
            operator=operator, kind=kind, period_start=start_day, period_end=end_day, defaults={"built_at": now})
        statement = Statement.objects.select_for_update().get(pk=statement.pk)
        booked = (_revenue(operator.pk, start, end, policies) if kind == Kind.REVENUE
                  else _service_fee(operator, start_day, end_day, start, end, policies))
        before = {"net_fen": statement.net_fen, "service_fee_fen": statement.service_fee_fen}
        statement.lines.all().delete()
        StatementLine.objects.bulk_create([StatementLine(statement=statement, **asdict(b)) for b in
                                           sorted(booked, key=lambda b: (b.at, b.kind, b.order_id or 0))])
        totals = defaultdict(int)
        for b in booked:
            totals[b.kind] += b.amount_fen
        statement.paid_fen = totals[Line.PAYMENT]
        statement.refunded_fen = -totals[Line.REFUND]
        statement.incentive_out_fen = -totals[Line.INCENTIVE_OUT]
        statement.incentive_in_fen = totals[Line.INCENTIVE_IN]
        statement.net_fen = (statement.paid_fen - statement.refunded_fen - statement.incentive_out_fen
                             + statement.incentive_in_fen)
        statement.service_fee_fen = totals[Line.SERVICE_FEE]
        if kind == Kind.SERVICE_FEE:
            statement.net_fen = sum(b.base_fen for b in booked)
        rates = {b.rate_bp for b in booked if b.kind == Line.SERVICE_FEE}
        statement.rate_bp = next(iter(rates)) if len(rates) == 1 else None
        statement.built_at = now
        statement.save()
        audit_record(action="statement.built", actor=actor, obj=statement,
                     changes={"net_fen": [before["net_fen"], statement.net_fen],
                              "service_fee_fen": [before["service_fee_fen"], statement.service_fee_fen],
                              "lines": [None, len(booked)]})
    return statement


def statements_build(*, day: date | None = None, now: datetime | None = None) -> dict[str, int]:
    """The periodic task: this and last month's revenue statements of every operator with lots,
    and this and the last half year's service fee of every government operator."""
    day = day or timezone.localdate()
    counts = {"revenue": 0, "service_fee": 0}
    previous_month = period_of(Kind.REVENUE, day)[0] - timedelta(days=1)
    previous_half = period_of(Kind.SERVICE_FEE, day)[0] - timedelta(days=1)
    for operator in Operator.objects.filter(lots__isnull=False).distinct():
        for when in (previous_month, day):
            statement_build(operator=operator, kind=Kind.REVENUE, period_start=period_of(Kind.REVENUE, when)[0],
                            now=now)
            counts["revenue"] += 1
        if operator.ownership == Operator.Ownership.GOVERNMENT:
            for when in (previous_half, day):
                try:
                    statement_build(operator=operator, kind=Kind.SERVICE_FEE,
                                    period_start=period_of(Kind.SERVICE_FEE, when)[0], now=now)
                except PolicyMissing:
                    continue
                counts["service_fee"] += 1
    return counts


# -- exports --------------------------------------------------------------------------------------------

EXPORT_FORMATS = ("csv", "xlsx")
LINE_HEADER = ["类型", "停车场编码", "停车场", "订单号", "退款单号", "支付渠道", "追缴区域", "计算基数（分）",
               "比例（万分之）", "金额（分）", "记账时间"]


def _summary(statement: Statement) -> list[tuple[str, object]]:
    return [("经营单位", statement.operator.name), ("统一社会信用代码", statement.operator.credit_code),
            ("类型", statement.get_kind_display()), ("期间开始", statement.period_start.isoformat()),
            ("期间结束（不含）", statement.period_end.isoformat()), ("收款（分）", statement.paid_fen),
            ("退款（分）", statement.refunded_fen), ("支付他区追缴激励（分）", statement.incentive_out_fen),
            ("获得追缴激励（分）", statement.incentive_in_fen), ("净额（分）", statement.net_fen),
            ("服务费（分）", statement.service_fee_fen),
            ("生成时间", timezone.localtime(statement.built_at).isoformat())]


def _line_rows(statement: Statement) -> list[list]:
    lines = statement.lines.select_related("lot", "order", "refund", "region").order_by("at", "id")
    return [[line.get_kind_display(), line.lot.code, line.lot.name, line.order.order_no if line.order else "",
             line.refund.refund_no if line.refund else "", line.channel, line.region.name if line.region else "",
             line.base_fen, line.rate_bp if line.rate_bp is not None else "", line.amount_fen,
             timezone.localtime(line.at).isoformat()] for line in lines]


def _safe(value):
    # A value typed as "=HYPERLINK(...)" must stay text when the file is opened in a spreadsheet.
    return "'" + value if isinstance(value, str) and value[:1] in "=+-@\t\r" else value


def statement_export(*, statement: Statement, fmt: str, actor=None) -> tuple[str, bytes, str]:
    """The statement as a file ``(filename, content, content type)``: its summary, then its lines.
    Every export is an audit entry (who took which statement, in which format)."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidPeriod(_("导出格式须为 csv 或 xlsx"), code="invalid_format", field="format")
    summary, rows = _summary(statement), _line_rows(statement)
    name = f"statement-{statement.operator.credit_code}-{statement.kind}-{statement.period_start:%Y%m%d}"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerows([[k, _safe(v)] for k, v in summary])
        writer.writerow([])
        writer.writerow(LINE_HEADER)
        writer.writerows([[_safe(v) for v in row] for row in rows])
        content, content_type = ("\ufeff" + out.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"
    else:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = "汇总"
        for key, value in summary:
            sheet.append([key, _safe(value)])
        detail = book.create_sheet("明细")
        detail.append(LINE_HEADER)
        for row in rows:
            detail.append([_safe(v) for v in row])
        out = io.BytesIO()
        book.save(out)
        content = out.getvalue()
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    audit_record(action="statement.exported", actor=actor, obj=statement,
                 changes={"format": [None, fmt], "lines": [None, len(rows)], "net_fen": [None, statement.net_fen],
                          "service_fee_fen": [None, statement.service_fee_fen]})
    return f"{name}.{fmt}", content, content_type


# -- reconciliation -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """One disagreement between our books and the gateway's statement."""

    MISSING_HERE = "missing_here"  # the gateway took money we have no payment for
    MISSING_THERE = "missing_there"  # we recorded a payment the statement does not list
    AMOUNT_MISMATCH = "amount_mismatch"
    REFUND_MISSING_HERE = "refund_missing_here"
    REFUND_MISSING_THERE = "refund_missing_there"
    REFUND_AMOUNT_MISMATCH = "refund_amount_mismatch"

    kind: str
    order_no: str
    transaction_id: str = ""
    refund_no: str = ""
    ours_fen: int | None = None
    theirs_fen: int | None = None


def reconcile(*, channel: str, rows: list[StatementRow], start: date | None = None,
              end: date | None = None) -> list[Difference]:
    """Every difference between ``channel``'s statement ``rows`` and our payments and succeeded
    refunds on the statement's days (``start``–``end`` inclusive; by default the days its rows span)."""
    days = [timezone.localtime(r.at).date() for r in rows if r.at is not None]
    if start is None or end is None:
        if not days:
            raise InvalidPeriod(_("对账单没有记账时间，请指定对账日期"), field="date")
        start, end = start or min(days), end or max(days)
    low, high = _bounds(start, end + timedelta(days=1))
    theirs_paid = {r.transaction_id: r for r in rows if r.kind == StatementRow.PAYMENT}
    theirs_refunds = {r.refund_no: r for r in rows if r.kind == StatementRow.REFUND}
    ours_paid = {p.transaction_id: p for p in Payment.objects.filter(channel=channel).filter(
        paid_at__gte=low, paid_at__lt=high).select_related("order")} | {
        p.transaction_id: p for p in Payment.objects.filter(channel=channel, transaction_id__in=list(theirs_paid))
        .select_related("order")}
    ours_refunds = {r.refund_no: r for r in Refund.objects.filter(order__channel=channel, state=Refund.State.SUCCEEDED)
                    .filter(completed_at__gte=low, completed_at__lt=high).select_related("order")} | {
        r.refund_no: r for r in Refund.objects.filter(order__channel=channel, refund_no__in=list(theirs_refunds))
        .exclude(state__in=[Refund.State.FAILED, Refund.State.REJECTED]).select_related("order")}
    found: list[Difference] = []
    for txn, row in theirs_paid.items():
        ours = ours_paid.get(txn)
        if ours is None:
            found.append(Difference(Difference.MISSING_HERE, row.order_no, txn, theirs_fen=row.amount_fen))
        elif ours.amount_fen != row.amount_fen:
            found.append(Difference(Difference.AMOUNT_MISMATCH, ours.order.order_no, txn, ours_fen=ours.amount_fen,
                                    theirs_fen=row.amount_fen))
    for txn, ours in ours_paid.items():
        if txn not in theirs_paid:
            found.append(Difference(Difference.MISSING_THERE, ours.order.order_no, txn, ours_fen=ours.amount_fen))
    for refund_no, row in theirs_refunds.items():
        ours = ours_refunds.get(refund_no)
        if ours is None:
            found.append(Difference(Difference.REFUND_MISSING_HERE, row.order_no, row.transaction_id, refund_no,
                                    theirs_fen=row.amount_fen))
        elif ours.amount_fen != row.amount_fen or ours.state != Refund.State.SUCCEEDED:
            found.append(Difference(Difference.REFUND_AMOUNT_MISMATCH, ours.order.order_no, row.transaction_id,
                                    refund_no, ours_fen=ours.amount_fen if ours.state == Refund.State.SUCCEEDED
                                    else 0, theirs_fen=row.amount_fen))
    for refund_no, ours in ours_refunds.items():
        if refund_no not in theirs_refunds and ours.state == Refund.State.SUCCEEDED:
            found.append(Difference(Difference.REFUND_MISSING_THERE, ours.order.order_no, ours.provider_refund_id,
                                    refund_no, ours_fen=ours.amount_fen))
    return found
