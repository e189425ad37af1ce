"""ORDER and the paying API's inputs (SPEC §8.1)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common import messages
from apps.common.api.params import StrictBodySerializer

from ..models import Order, OrderItem, PaymentAgreement


class OrderCreateSerializer(StrictBodySerializer):
    session_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False,
                                        max_length=50, help_text=_("要缴费的停车记录（pay/due 列出的）"))
    arrears_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False,
                                        max_length=50, help_text=_("要补缴的欠费（须登录，且车牌已绑定）"))
    channel = serializers.CharField(max_length=16, help_text=_("wechat、alipay、unionpay 或 sandbox"))
    lot = serializers.CharField(max_length=32, required=False,
                                help_text=_("扫的是哪个停车场的支付码（可选）：在他区支付码追缴到的欠费按此计入跨区追缴激励"))

    def validate(self, attrs):
        if bool(attrs.get("session_ids")) == bool(attrs.get("arrears_ids")):
            raise serializers.ValidationError(
                {"session_ids": [_("请给出 session_ids 或 arrears_ids 中的一项，且不能为空")]})
        return attrs


class OrderItemSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="debt_id", help_text=_("停车记录或欠费的编号"))

    class Meta:
        model = OrderItem
        fields = ["kind", "id", "amount_fen"]
        read_only_fields = fields


PAY_SCHEMA = {
    "type": "object",
    "description": "客户端发起支付所需的参数：微信内 JSAPI {trade_type, jsapi}，否则 NATIVE {trade_type, code_url}；"
                   "支付宝和模拟收银台 {pay_url}",
    "additionalProperties": True,
    "example": {"pay_url": "https://pay.example/pay/cashier/20260317094244aB3dE5fG7hJ9/"},
}


@extend_schema_field(PAY_SCHEMA)
class PayField(serializers.JSONField):
    """The ORDER's ``pay`` object: plain JSON, documented by PAY_SCHEMA (its shape depends on the channel)."""


class OrderSerializer(serializers.ModelSerializer):
    items = OrderItemSerializer(many=True, read_only=True)
    pay = PayField(read_only=True)

    class Meta:
        model = Order
        fields = ["order_no", "state", "channel", "amount_fen", "items", "created_at", "expires_at", "paid_at", "pay"]
        read_only_fields = fields


class MyOrderSerializer(serializers.ModelSerializer):
    """An order in the citizen's own list: a receipt once paid (no payment parameters)."""

    items = OrderItemSerializer(many=True, read_only=True)
    lot_code = serializers.CharField(source="lot.code", allow_null=True, default=None)
    lot_name = serializers.CharField(source="lot.name", allow_null=True, default=None)

    class Meta:
        model = Order
        fields = ["order_no", "state", "channel", "amount_fen", "refunded_fen", "plate", "lot_code", "lot_name",
                  "items", "created_at", "paid_at"]
        read_only_fields = fields


class DueQuerySerializer(serializers.Serializer):
    lot = serializers.CharField(max_length=32, help_text=_("停车场编码"),
                                error_messages={"required": messages.REQUIRED})
    plate = serializers.CharField(max_length=32, help_text=_("车牌"), error_messages={"required": messages.REQUIRED})


class DueSessionSerializer(serializers.Serializer):
    session_id = serializers.IntegerField()
    entry_at = serializers.DateTimeField(allow_null=True)
    exit_at = serializers.DateTimeField(allow_null=True, help_text=_("仍在场内时为 null，费用计到现在"))
    amount_fen = serializers.IntegerField()
    paid_fen = serializers.IntegerField()
    due_fen = serializers.IntegerField()


class DueSerializer(serializers.Serializer):
    lot_code = serializers.CharField()
    plate = serializers.CharField()
    due_fen = serializers.IntegerField()
    grace_minutes = serializers.IntegerField(help_text=_("场内缴费后在此时间内离场按已缴放行"))
    sessions = DueSessionSerializer(many=True)


class AgreementSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentAgreement
        fields = ["id", "plate", "channel", "state", "signed_at", "ended_at"]
        read_only_fields = fields


class AgreementChannelSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    needs_ref = serializers.BooleanField(
        help_text=_("是否须填写渠道给出的协议号（微信无感支付以本人 openid 签约，无须填写）"))


class MyAgreementsSerializer(serializers.Serializer):
    channels = AgreementChannelSerializer(many=True, help_text=_("现在可以开通无感支付的渠道"))
    agreements = AgreementSerializer(many=True)


class AgreementSignSerializer(StrictBodySerializer):
    plate = serializers.CharField(max_length=32, help_text=_("本人已绑定的车牌"))
    channel = serializers.CharField(max_length=16)
    provider_ref = serializers.CharField(max_length=128, required=False, allow_blank=True, default="",
                                         help_text=_("渠道给出的协议号；微信无感支付不填"))
