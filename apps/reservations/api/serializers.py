"""SPEC §8.3's shapes."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from apps.common.api.params import StrictBodySerializer

from ..models import BookingSite, Reservation, SharingApplication, SharingContract, SharingOffer, Slot


class SlotSerializer(serializers.ModelSerializer):
    remaining = serializers.IntegerField(read_only=True)

    class Meta:
        model = Slot
        fields = ["id", "starts_at", "ends_at", "quota", "remaining", "berth_kind"]


class HospitalSerializer(serializers.ModelSerializer):
    lot_code = serializers.CharField(source="lot.code", read_only=True)
    slots = SlotSerializer(source="bookable", many=True, read_only=True)
    rules = serializers.SerializerMethodField()
    # Not "kind": a lot's kind (SPEC §4) is another choice set under that name.
    site_kind = serializers.ChoiceField(source="kind", choices=BookingSite.Kind.choices, read_only=True)

    class Meta:
        model = BookingSite
        fields = ["id", "name", "lot_code", "slots", "site_kind", "rules"]

    def get_rules(self, obj) -> dict[str, int | bool]:
        return {"booking_window_days": obj.booking_window_days, "booking_cutoff_minutes": obj.booking_cutoff_minutes,
                "cancel_cutoff_minutes": obj.cancel_cutoff_minutes, "arrive_before_minutes": obj.arrive_before_minutes,
                "arrive_after_minutes": obj.arrive_after_minutes, "default_stay_minutes": obj.default_stay_minutes,
                "waives_fee": obj.waives_fee, "ev_free_minutes": obj.ev_free_minutes,
                "no_show_limit": obj.no_show_limit, "no_show_period_days": obj.no_show_period_days,
                "suspension_days": obj.suspension_days}


class HospitalQuerySerializer(serializers.Serializer):
    site_kind = serializers.ChoiceField(
        choices=BookingSite.Kind.choices, required=False, default=BookingSite.Kind.HOSPITAL,
        help_text="hospital (default) or lot: lots booking accessible or EV berths")


class ReservationCreateSerializer(StrictBodySerializer):
    # Plain values: the service checks them (unknown slot, plate form, binding) with SPEC's codes.
    slot = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    plate = serializers.CharField(max_length=32, trim_whitespace=True)


class ReservationSerializer(serializers.ModelSerializer):
    slot = serializers.IntegerField(source="slot_id", read_only=True)
    hospital = serializers.CharField(source="hospital.name", read_only=True)
    lot_code = serializers.CharField(source="lot.code", read_only=True)
    starts_at = serializers.DateTimeField(source="slot.starts_at", read_only=True)
    ends_at = serializers.DateTimeField(source="slot.ends_at", read_only=True)
    qr_url = serializers.SerializerMethodField()

    class Meta:
        model = Reservation
        fields = ["id", "code", "slot", "plate", "state", "arrive_from", "arrive_until", "hospital", "lot_code",
                  "starts_at", "ends_at", "qr_url"]

    def get_qr_url(self, obj) -> str:
        return reverse("reservation-qr", kwargs={"pk": obj.pk})


class SuspensionSerializer(serializers.Serializer):
    hospital = serializers.CharField(source="hospital.name")
    until = serializers.DateTimeField()
    no_shows = serializers.IntegerField()


class OfferSerializer(serializers.ModelSerializer):
    lot_code = serializers.CharField(source="lot.code", read_only=True)
    lot_name = serializers.CharField(source="lot.name", read_only=True)
    remaining = serializers.IntegerField(read_only=True)

    class Meta:
        model = SharingOffer
        fields = ["id", "title", "lot_code", "lot_name", "berths", "remaining", "weekday_start", "weekday_end",
                  "weekend_start", "weekend_end", "monthly_price_fen", "term_months"]


class ApplicationCreateSerializer(StrictBodySerializer):
    offer = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    plate = serializers.CharField(max_length=32)
    address = serializers.CharField(max_length=200)


class ApplicationSerializer(serializers.ModelSerializer):
    offer = serializers.IntegerField(source="offer_id", read_only=True)
    lot_code = serializers.CharField(source="offer.lot.code", read_only=True)

    class Meta:
        model = SharingApplication
        fields = ["id", "offer", "lot_code", "plate", "address", "state", "created_at", "decided_at", "note"]


class ContractSerializer(serializers.ModelSerializer):
    offer = serializers.IntegerField(source="offer_id", read_only=True)
    lot_code = serializers.CharField(source="lot.code", read_only=True)

    class Meta:
        model = SharingContract
        fields = ["id", "number", "offer", "lot_code", "plate", "state", "starts_at", "ends_at", "monthly_price_fen",
                  "months", "ended_at", "ended_by"]


class MySharingSerializer(serializers.Serializer):
    applications = ApplicationSerializer(many=True)
    contracts = ContractSerializer(many=True)
