"""The one interface every payment channel implements (STYLE.md "Providers behind one interface").

Nothing outside ``apps/payments/providers/`` names a wallet: orders, callbacks, tasks and the admin
ask the registry for a provider by its ``code`` and talk to it only through this class. A provider
talks to its gateway over HTTP (the base address comes from settings, so tests and staging point it
at a fake gateway) and never touches the database: it turns our request into the gateway's and the
gateway's answer or notice into the small value types below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar


class ProviderError(Exception):
    """The gateway could not be reached or refused a call (not a verdict on a payment). ``retry``
    says whether trying again later may help."""

    def __init__(self, message: str, *, retry: bool = True, code: str = ""):
        super().__init__(message)
        self.retry = retry
        self.code = code


class NoticeRefused(Exception):
    """A callback that is not the gateway's: a bad or missing signature, a body that does not
    decrypt or does not parse. Nothing is recorded from it; the provider's refusal is answered."""


class NotConfigured(ProviderError):
    def __init__(self, message: str):
        super().__init__(message, retry=False, code="not_configured")


@dataclass(frozen=True)
class PayRequest:
    """What an order asks a channel to collect. ``openid`` is the payer's identity with this
    merchant's app where it is known (WeChat JSAPI), ``return_url`` where a cashier page sends the
    payer back, ``notify_url`` the absolute address of our callback for this provider."""

    order_no: str
    amount_fen: int
    description: str
    expires_at: datetime
    notify_url: str
    return_url: str = ""
    openid: str = ""
    client_ip: str = ""
    placed_at: datetime | None = None  # the order's created_at; UnionPay's query needs it again


@dataclass(frozen=True)
class PaymentResult:
    """A gateway's word on one order, from a verified notice or from a query.

    ``state`` is ``paid`` (the money was taken), ``pending`` (not yet), ``closed`` (it never will be:
    closed, revoked, failed). ``merchant_id`` and ``app_id`` are what the gateway says the money was
    paid to: the caller matches them, ``order_no`` and ``amount_fen`` against the order."""

    PAID: ClassVar[str] = "paid"
    PENDING: ClassVar[str] = "pending"
    CLOSED: ClassVar[str] = "closed"

    order_no: str
    state: str
    amount_fen: int | None = None
    transaction_id: str = ""
    merchant_id: str = ""
    app_id: str = ""
    paid_at: datetime | None = None
    payer: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundRequest:
    order_no: str
    refund_no: str
    amount_fen: int
    order_amount_fen: int
    reason: str
    transaction_id: str = ""
    notify_url: str = ""


@dataclass(frozen=True)
class RefundResult:
    """``state``: ``succeeded``, ``processing`` (the gateway will finish it later) or ``failed``."""

    SUCCEEDED: ClassVar[str] = "succeeded"
    PROCESSING: ClassVar[str] = "processing"
    FAILED: ClassVar[str] = "failed"

    refund_no: str
    state: str
    refund_id: str = ""
    amount_fen: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """A verified, decrypted callback. ``kind`` is ``payment`` or ``refund``; exactly one of
    ``payment`` and ``refund`` is set accordingly."""

    kind: str
    payment: PaymentResult | None = None
    refund: RefundResult | None = None
    notice_id: str = ""  # the gateway's id of the notice itself, where it has one


@dataclass(frozen=True)
class StatementRow:
    """One line of a gateway's statement (对账单) for reconciliation: a payment or a refund of
    ``amount_fen`` (always positive) for our ``order_no``, at the time the gateway booked it.
    ``refund_no`` is our refund's number on refund rows."""

    PAYMENT: ClassVar[str] = "payment"
    REFUND: ClassVar[str] = "refund"

    order_no: str
    transaction_id: str
    amount_fen: int
    kind: str
    at: datetime | None
    refund_no: str = ""


@dataclass(frozen=True)
class Ack:
    """The HTTP answer a gateway expects: a status, a body and its content type."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


class PaymentProvider:
    """A payment channel. Subclasses set ``code`` (the SPEC channel name and the callback path's
    last part), ``name`` (shown to staff and payers) and implement the calls they support.

    ``citizen_channel``: a payer may choose it when ordering (SPEC §8.1 ``channel``); ETC, which the
    issuer charges at the barrier, is not one. ``supports_agreements``: it can charge a plate bound
    by a payment agreement (无感支付) without the driver acting.

    The methods below raise ``NotImplementedError`` here: a call a channel does not support stays
    so, and its callers refuse it (``payments_reconcile`` for a channel without statement files;
    an agreement charge only where ``supports_agreements``).
    """

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    citizen_channel: ClassVar[bool] = True
    supports_agreements: ClassVar[bool] = False

    def is_configured(self) -> bool:
        """Whether its keys and addresses are set; an unconfigured channel is not offered."""
        raise NotImplementedError

    # --- paying ----------------------------------------------------------------------------
    def start(self, request: PayRequest) -> dict[str, Any]:
        """Create the payment at the gateway and return the ORDER's ``pay`` object (SPEC §8.1)."""
        raise NotImplementedError

    def query(self, order_no: str, *, placed_at: datetime | None = None) -> PaymentResult:
        """Ask the gateway where the order stands (a notice that never came). ``placed_at`` is
        when the order was started at the gateway (its ``created_at``): UnionPay finds an order
        only by its number and that time; the others ignore it."""
        raise NotImplementedError

    def close(self, order_no: str) -> None:
        """Close the order at the gateway so it can no longer be paid. Closing an order the
        gateway never saw, or already closed, is not an error."""
        raise NotImplementedError

    def refund(self, request: RefundRequest) -> RefundResult:
        raise NotImplementedError

    # --- callbacks ---------------------------------------------------------------------------
    def parse_notice(self, headers: Mapping[str, str], body: bytes) -> Notice:
        """Verify and decode a callback. ``headers`` are the HTTP headers, looked up
        case-insensitively by their HTTP names (``Wechatpay-Signature``). Raises ``NoticeRefused``
        for anything not provably from the gateway."""
        raise NotImplementedError

    def expected_merchant(self) -> tuple[str, str]:
        """``(merchant_id, app_id)`` a genuine notice for one of our orders must carry ('' where the
        channel has no such field)."""
        return "", ""

    def acknowledge(self) -> Ack:
        """The answer that tells the gateway the notice was taken (it stops resending)."""
        raise NotImplementedError

    def refuse(self, message: str) -> Ack:
        """The answer that tells the gateway the notice was not taken."""
        raise NotImplementedError

    # --- payment agreements (无感支付) ----------------------------------------------------------
    def agreement_charge(self, *, agreement_ref: str, plate: str, order_no: str, amount_fen: int,
                         description: str, notify_url: str, start_at: datetime,
                         end_at: datetime, **extra: Any) -> PaymentResult:
        """Charge a plate's agreement for a finished stay; ``pending`` when the gateway answers by
        notice later, ``closed`` when it refused the charge (no money: the stay becomes arrears).

        ``extra`` carries what some gateways need (``entry_ref``: the id ``agreement_enter``
        returned; ``plate_color``; ``lot_name``; ``device_id``); callers may pass it to every
        provider, and each ignores what it does not use."""
        raise NotImplementedError

    def agreement_status(self, plate: str, **context: Any) -> bool:
        """Whether ``plate`` may be charged through this channel now (the agreement is active at the
        gateway). ``context`` carries what a gateway needs beyond the plate (``agreement_ref``: the
        payer's id with the gateway, ``plate_color``); unknown keys are ignored."""
        raise NotImplementedError

    def agreement_enter(self, *, plate: str, entry_ref: str, start_at: datetime, lot_name: str,
                        notify_url: str, plate_color: str = "", free_minutes: int = 0) -> str:
        """Tell the gateway an agreed plate entered (WeChat's parking service needs the entry before
        it charges); returns the gateway's id for the entry, to pass to ``agreement_charge`` as
        ``entry_ref``. Channels that need no entry notice return ``entry_ref`` unchanged."""
        return entry_ref

    # --- reconciliation ----------------------------------------------------------------------
    def parse_statement(self, file: Any) -> list[StatementRow]:
        """Parse a statement file the gateway issued (bytes, text or a file object)."""
        raise NotImplementedError
