from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReservationsConfig(AppConfig):
    name = "apps.reservations"
    verbose_name = _("预约与共享停车")

    def ready(self):
        from apps.common.privacy import register_plate_exporter
        from apps.lots.bookings import register_booking_rules
        from apps.regions.models import StaffScope
        from apps.regions.services import extend_staff_permissions

        from . import gate
        from .privacy import export_bookings
        from .selectors import lot_booking_rules

        gate.register()
        register_booking_rules(lot_booking_rules)  # the map's lot card tells the lot's booking rules
        register_plate_exporter("reservations", export_bookings)  # a plate owner's export (PIPL)
        # Staff of every kind run the sites, slots and offers of their scope and decide on its
        # applications, suspensions and contracts; bookings are the citizens' and only read here.
        for kind in StaffScope.Kind.values:
            extend_staff_permissions(kind, self.label, [
                "view_bookingsite", "add_bookingsite", "change_bookingsite", "view_slot", "add_slot", "change_slot",
                "delete_slot", "view_reservation", "view_suspension", "change_suspension", "view_sharingoffer",
                "add_sharingoffer", "change_sharingoffer", "view_sharingapplication", "change_sharingapplication",
                "view_sharingcontract", "change_sharingcontract"])
