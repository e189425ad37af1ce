from __future__ import annotations

from rest_framework import serializers

from apps.common.api.params import StrictBodySerializer


class PlateSerializer(serializers.Serializer):
    plate = serializers.CharField(help_text="规范化车牌（SPEC §2）")
    bound_at = serializers.DateTimeField()


class PlateBindSerializer(StrictBodySerializer):
    plate = serializers.CharField(max_length=32, help_text="车牌号，按 SPEC §2 规范化")
    proof = serializers.CharField(max_length=128, required=False, allow_blank=True, default="",
                                  help_text="该车牌已被他人绑定时：近 30 天内该车牌一次缴费的订单号")


class StaySerializer(serializers.Serializer):
    session_id = serializers.IntegerField()
    plate = serializers.CharField()
    current = serializers.BooleanField(help_text="仍在场内或在出口等待缴费")
    state = serializers.CharField()
    lot_code = serializers.CharField()
    lot_name = serializers.CharField()
    lot_address = serializers.CharField()
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    berth = serializers.CharField(allow_null=True)
    floor = serializers.CharField(allow_null=True)
    entry_at = serializers.DateTimeField(allow_null=True)
    exit_at = serializers.DateTimeField(allow_null=True)
    amount_fen = serializers.IntegerField(allow_null=True, help_text="在场的停车按当前时刻计费；无法计费时为空")
    paid_fen = serializers.IntegerField()
    due_fen = serializers.IntegerField(allow_null=True)
    navigate_url = serializers.CharField(help_text="到车辆所在停车场的导航（反向寻车）")


class ArrearsSerializer(serializers.Serializer):
    arrears_id = serializers.IntegerField()
    session_id = serializers.IntegerField()
    plate = serializers.CharField()
    lot_code = serializers.CharField()
    lot_name = serializers.CharField()
    entry_at = serializers.DateTimeField(allow_null=True)
    exit_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    amount_fen = serializers.IntegerField()
    paid_fen = serializers.IntegerField()
    due_fen = serializers.IntegerField()
    pay_url = serializers.CharField(help_text="该停车场的缴费页")


class MiniProgramLoginSerializer(StrictBodySerializer):
    code = serializers.CharField(max_length=128, help_text="小程序 wx.login() 得到的临时登录凭证")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="之后的请求带上 Authorization: Token <token>")


class PlateExportQuerySerializer(serializers.Serializer):
    proof = serializers.CharField(max_length=128, required=False, allow_blank=True, default="",
                                  help_text="绑定时未出示凭据的车牌：近 30 天内该车牌一次缴费的订单号")


class PlateExportSerializer(serializers.Serializer):
    plate = serializers.CharField(help_text="规范化车牌（SPEC §2）")
    bound_at = serializers.DateTimeField()
    exported_at = serializers.DateTimeField()
    retention_days = serializers.IntegerField(help_text="已结清的停车记录保留车牌明文的天数，之后车牌改存为加盐哈希")
    held = serializers.DictField(
        child=serializers.DictField(child=serializers.ListField(child=serializers.DictField())),
        help_text="各业务持有的该车牌数据：sessions（停车、上报事件原文、欠费、费用流水）、payments（订单、支付、"
                  "无感支付、催缴）、complaints（提及该车牌的工单，不含来电人信息）、reservations（预约、错峰共享）")
