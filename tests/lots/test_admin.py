"""The lot registry's admin through the Django test client: lots, tariffs, devices, outages."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.common.admin import _REFUSAL_ATTR
from apps.common.geo import gcj02_to_wgs84, wgs84_to_gcj02
from apps.lots.credentials import decrypt_secret, fingerprint
from apps.lots.errors import LotError
from apps.lots.models import Device, LotOutage, ParkingLot, Tariff
from tests.factories import CORE_ARTERIAL_RULES, LotFactory, OperatorFactory, TariffFactory, UserFactory
from tests.playwright_db import close_connections_of_this_context

pytestmark = pytest.mark.django_db

LX, BH = "320213", "320211"
LOT_ADD = "admin:lots_parkinglot_add"


def lot_data(city, **overrides):
    data = {
        "code": "LX-0100", "name": "南禅寺停车场", "address": "无锡市梁溪区南长街", "region": city[LX].pk,
        "operator": "", "kind": "off_street", "category": "public", "zone_class": "", "road_class": "",
        "position_lat": "31.5623", "position_lon": "120.3089", "coords_entered_as": "wgs84",
        "total_berths": "200", "ev_berths": "10", "accessible_berths": "4", "reservable_berths": "0",
        "opening_hours": "00:00-24:00", "tariff": "", "filing_status": "filed", "compliance_level": "standard",
        "status": "open",
    }
    data.update(overrides)
    return data


def form_errors(response) -> dict:
    return response.context["adminform"].form.errors


# -- lots ----------------------------------------------------------------------------------------
def test_add_lot_saves_through_service_with_history(logged_in, city, officer):
    response = logged_in.post(reverse(LOT_ADD), lot_data(city))
    assert response.status_code == 302, form_errors(response)
    lot = ParkingLot.objects.get(code="LX-0100")
    assert (lot.lat, lot.lon) == (31.5623, 120.3089)
    assert lot.source_coord_system == "wgs84"
    assert lot.free_berths == 200  # lot_save: a new lot starts empty
    record = lot.history.get()
    assert record.history_user == officer and record.history_type == "+"


def test_lot_code_is_normalised(logged_in, city):
    response = logged_in.post(reverse(LOT_ADD), lot_data(city, code=" lx-0101 "))
    assert response.status_code == 302, form_errors(response)
    assert ParkingLot.objects.filter(code="LX-0101").exists()


def test_gcj02_coordinates_are_converted_to_wgs84(logged_in, city):
    wgs = (31.5623, 120.3089)
    gcj = wgs84_to_gcj02(*wgs)
    response = logged_in.post(reverse(LOT_ADD), lot_data(
        city, position_lat=f"{gcj[0]:.7f}", position_lon=f"{gcj[1]:.7f}", coords_entered_as="gcj02"))
    assert response.status_code == 302, form_errors(response)
    lot = ParkingLot.objects.get(code="LX-0100")
    assert lot.source_coord_system == "gcj02"
    expected = gcj02_to_wgs84(round(gcj[0], 7), round(gcj[1], 7))
    assert lot.lat == pytest.approx(expected[0], abs=1e-9) and lot.lon == pytest.approx(expected[1], abs=1e-9)
    assert abs(lot.lat - wgs[0]) < 1e-5 and abs(lot.lon - wgs[1]) < 1e-5


def test_editing_a_gcj02_lot_does_not_convert_twice(logged_in, city):
    lot = LotFactory(code="LX-0200", region=city[LX], lat=31.57, lon=120.30, source_coord_system="gcj02",
                     tariff=None, operator=None)
    url = reverse("admin:lots_parkinglot_change", args=[lot.pk])
    page = logged_in.get(url)
    assert page.context["adminform"].form["coords_entered_as"].value() == "wgs84"
    response = logged_in.post(url, lot_data(city, code="LX-0200", name="改名了",
                                            position_lat="31.57", position_lon="120.3"))
    assert response.status_code == 302, form_errors(response)
    lot.refresh_from_db()
    assert (lot.lat, lot.lon, lot.name) == (31.57, 120.30, "改名了")
    assert lot.source_coord_system == "gcj02"  # the position wasn't touched: its origin stays recorded


@pytest.mark.parametrize("text", ["全天", "7:00-22:00", "07:00-25:00", "工作日 07:00-19:00", "07:00-22:00,"
                                  "夜间"])
def test_opening_hours_that_are_not_ranges_are_refused_with_the_imports_wording(logged_in, city, text):
    response = logged_in.post(reverse(LOT_ADD), lot_data(city, opening_hours=text))
    assert response.status_code == 200
    assert form_errors(response)["opening_hours"] == ["格式应为 HH:MM-HH:MM，如 07:00-22:00"]
    assert not ParkingLot.objects.filter(code="LX-0100").exists()


def test_opening_hours_are_stored_as_the_forecast_reads_them(logged_in, city):
    response = logged_in.post(reverse(LOT_ADD), lot_data(city, opening_hours=" 07:00-11:30， 13:00-22:00 "))
    assert response.status_code == 302, form_errors(response)
    assert ParkingLot.objects.get(code="LX-0100").opening_hours == "07:00-11:30,13:00-22:00"


def test_a_lot_registered_with_other_hours_text_keeps_it_when_something_else_is_changed(logged_in, city):
    lot = LotFactory(code="LX-0201", region=city[LX], lat=31.57, lon=120.30, tariff=None, operator=None,
                     opening_hours="工作日 07:00-19:00")
    url = reverse("admin:lots_parkinglot_change", args=[lot.pk])
    response = logged_in.post(url, lot_data(city, code="LX-0201", name="改名了", position_lat="31.57",
                                            position_lon="120.3", opening_hours="工作日 07:00-19:00"))
    assert response.status_code == 302, form_errors(response)
    lot.refresh_from_db()
    assert (lot.name, lot.opening_hours) == ("改名了", "工作日 07:00-19:00")
    response = logged_in.post(url, lot_data(city, code="LX-0201", position_lat="31.57", position_lon="120.3",
                                            opening_hours="工作日 07:00-20:00"))
    assert form_errors(response)["opening_hours"] == ["格式应为 HH:MM-HH:MM，如 07:00-22:00"]


def test_coordinates_outside_wuxi_are_an_error_on_position(logged_in, city):
    response = logged_in.post(reverse(LOT_ADD), lot_data(city, position_lat="39.9042", position_lon="116.4074"))
    assert response.status_code == 200
    assert "无锡" in str(form_errors(response)["position"])
    assert not ParkingLot.objects.exists()


def test_incomplete_position_is_an_error(logged_in, city):
    response = logged_in.post(reverse(LOT_ADD), lot_data(city, position_lon=""))
    assert response.status_code == 200
    assert "position" in form_errors(response)
    assert not ParkingLot.objects.exists()


def test_duplicate_lot_code_names_the_code_field(logged_in, city):
    LotFactory(code="LX-0100", region=city[BH])  # even one the officer can't see
    response = logged_in.post(reverse(LOT_ADD), lot_data(city))
    assert response.status_code == 200
    assert "code" in form_errors(response)
    assert ParkingLot.objects.count() == 1


def test_berths_over_total_names_the_field(logged_in, city):
    response = logged_in.post(reverse(LOT_ADD), lot_data(city, ev_berths="500"))
    assert response.status_code == 200
    assert "ev_berths" in form_errors(response)


def test_officer_cannot_create_lot_in_other_region(logged_in, city):
    response = logged_in.post(reverse(LOT_ADD), lot_data(city, region=city[BH].pk))
    assert response.status_code == 200
    assert "region" in form_errors(response)
    assert not ParkingLot.objects.exists()


def test_operator_staff_cannot_hand_their_lot_to_another_operator(client, city, staff_factory):
    operator = OperatorFactory()
    user = staff_factory("operator", operator)
    client.force_login(user)
    lot = LotFactory(code="LX-0300", region=city[LX], operator=operator, tariff=None)
    url = reverse("admin:lots_parkinglot_change", args=[lot.pk])
    response = client.post(url, lot_data(city, code="LX-0300", operator=operator.pk, name="新名字"))
    assert response.status_code == 302, form_errors(response)
    other = OperatorFactory()
    response = client.post(url, lot_data(city, code="LX-0300", operator=other.pk))
    assert response.status_code == 200 and "operator" in form_errors(response)
    lot.refresh_from_db()
    assert lot.operator == operator and lot.name == "新名字"


def test_service_refusal_after_the_form_validated_is_shown_and_rolled_back(logged_in, city):
    """The form sees GCJ-02 coordinates just inside the box; lot_save converts them to WGS-84,
    which is outside, and refuses: the same form comes back with the error, nothing saved."""
    lot = LotFactory(code="LX-0301", region=city[LX], lat=31.5, lon=120.3)
    url = reverse("admin:lots_parkinglot_change", args=[lot.pk])
    response = logged_in.post(url, lot_data(city, code="LX-0301", name="改名", position_lat="31.5",
                                            position_lon="119.5020", coords_entered_as="gcj02"))
    assert response.status_code == 200
    assert "无锡" in str(form_errors(response)["position"])
    assert isinstance(getattr(response.wsgi_request, _REFUSAL_ATTR), LotError)  # it was the service
    assert response.context["adminform"].form["name"].value() == "改名"  # the user's input is kept
    lot.refresh_from_db()
    assert (lot.name, lot.lat, lot.lon, lot.source_coord_system) == (lot.name, 31.5, 120.3, "wgs84")
    assert lot.name != "改名"
    assert lot.history.count() == 1
    add = logged_in.post(reverse(LOT_ADD), lot_data(city, position_lat="31.5", position_lon="119.5020",
                                                    coords_entered_as="gcj02"))
    assert add.status_code == 200 and "position" in form_errors(add)
    assert not ParkingLot.objects.filter(code="LX-0100").exists()


def test_lot_admin_uses_our_leaflet_widget_without_cdn(logged_in, city):
    lot = LotFactory(code="LX-0400", region=city[LX], lat=31.5, lon=120.25)
    html = logged_in.get(reverse("admin:lots_parkinglot_change", args=[lot.pk])).text
    assert "/static/leaflet/leaflet.js" in html and "/static/leaflet/leaflet.css" in html
    assert "/static/lots/coordinates.js" in html
    assert "unpkg" not in html and "cdn" not in html.lower()
    assert 'name="position_lat"' in html and 'value="31.5"' in html
    config = json.loads(re.search(r'data-map-config="([^"]+)"', html).group(1).replace("&quot;", '"'))
    assert config["tiles"][0]["url"].startswith("https://tile.openstreetmap.org/")
    assert config["coordSystemInput"] == "coords_entered_as"


def test_tianditu_tiles_when_configured(settings):
    from apps.lots.widgets import map_tile_layers

    settings.MAP_TILES, settings.TIANDITU_KEY = "tianditu", "k123"
    layers = map_tile_layers()
    assert "tianditu.gov.cn" in layers[0]["url"] and "tk=k123" in layers[0]["url"]
    settings.TIANDITU_KEY = ""
    assert "openstreetmap" in map_tile_layers()[0]["url"]


def test_lot_list_filters(logged_in, city):
    online = LotFactory(code="LX-0001", region=city[LX], tariff=None, allow_pay_later=True)
    offline = LotFactory(code="LX-0002", region=city[LX], offline_since=timezone.now())
    url = reverse("admin:lots_parkinglot_changelist")

    def codes(params):
        return [lot.code for lot in logged_in.get(url, params).context["cl"].result_list]

    assert codes({"online": "offline"}) == [offline.code]
    assert codes({"online": "online"}) == [online.code]
    assert codes({"has_tariff": "no"}) == [online.code]
    assert codes({"has_tariff": "yes"}) == [offline.code]
    assert codes({"allow_pay_later__exact": "1"}) == [online.code]
    page = logged_in.get(url).text
    assert "200/200" not in page and "100/100" in page and "离线" in page


def test_lot_changelist_query_count_does_not_grow(logged_in, city, django_assert_max_num_queries):
    for i in range(3):
        LotFactory(code=f"LX-1{i:03d}", region=city[LX])
    url = reverse("admin:lots_parkinglot_changelist")
    logged_in.get(url)
    with django_assert_max_num_queries(30) as few:
        logged_in.get(url)
    for i in range(20):
        LotFactory(code=f"LX-2{i:03d}", region=city[LX])
    with django_assert_max_num_queries(len(few.captured_queries)):
        logged_in.get(url)


# -- tariffs -------------------------------------------------------------------------------------
def tariff_data(city, rules, **overrides):
    data = {"name": "梁溪核心", "key": "lx-core", "region": city[LX].pk, "source": "测试", "rules": json.dumps(rules)}
    data.update(overrides)
    return data


def test_add_tariff_with_history_and_preview(logged_in, city, officer):
    response = logged_in.post(reverse("admin:lots_tariff_add"), tariff_data(city, CORE_ARTERIAL_RULES))
    assert response.status_code == 302, form_errors(response)
    tariff = Tariff.objects.get(key="lx-core")
    assert tariff.history.get().history_user == officer
    page = logged_in.get(reverse("admin:lots_tariff_change", args=[tariff.pk])).text
    assert "30分钟内免费" in page and "按小型车标准的2倍收费" in page


def test_bad_tariff_names_the_path_and_saves_nothing(logged_in, city):
    rules = copy.deepcopy(CORE_ARTERIAL_RULES)
    rules["small"]["bands"][1]["ladder"][0]["after_minutes"] = -5
    response = logged_in.post(reverse("admin:lots_tariff_add"), tariff_data(city, rules))
    assert response.status_code == 200
    assert form_errors(response)["rules"] == [
        "计费规则有误：small.bands[1].ladder[0].after_minutes: must not be negative"]
    assert not Tariff.objects.exists()


def test_bad_tariff_on_change_keeps_the_old_rules(logged_in, city):
    tariff = TariffFactory(region=city[LX], key="lx-1")
    rules = copy.deepcopy(CORE_ARTERIAL_RULES)
    rules["small"]["bands"][0]["end"] = "25:00"
    response = logged_in.post(reverse("admin:lots_tariff_change", args=[tariff.pk]),
                              tariff_data(city, rules, key="lx-1", name="改了"))
    assert response.status_code == 200
    assert "small.bands[0].end" in str(form_errors(response)["rules"])
    tariff.refresh_from_db()
    assert tariff.rules == CORE_ARTERIAL_RULES and tariff.name != "改了"
    assert tariff.history.count() == 1


def test_malformed_json_is_an_error_on_rules(logged_in, city):
    data = {**tariff_data(city, {}), "rules": '{"small": '}
    response = logged_in.post(reverse("admin:lots_tariff_add"), data)
    assert response.status_code == 200 and len(form_errors(response)["rules"]) == 1


def test_region_officer_cannot_make_a_city_wide_tariff(logged_in, city):
    response = logged_in.post(reverse("admin:lots_tariff_add"), tariff_data(city, CORE_ARTERIAL_RULES, region=""))
    assert response.status_code == 200
    assert "region" in form_errors(response)
    assert not Tariff.objects.exists()


# -- devices -------------------------------------------------------------------------------------
def _secret_from(response) -> tuple[str, str]:
    html = response.content.decode()
    access_key = re.search(r'<code class="access-key">([^<]+)</code>', html).group(1)
    secret = re.search(r'<code class="secret">([^<]+)</code>', html).group(1)
    return access_key, secret


def test_issue_device_shows_secret_once_and_stores_it_encrypted(logged_in, city, officer):
    lot = LotFactory(code="LX-0500", region=city[LX])
    response = logged_in.post(reverse("admin:lots_device_add"), {"name": "南禅寺道闸", "kind": "lot_system",
                                                                 "lots": [lot.pk]})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    access_key, secret = _secret_from(response)
    device = Device.objects.get()
    assert device.access_key == access_key
    assert list(device.lots.all()) == [lot]
    assert secret not in device.secret_encrypted
    assert decrypt_secret(device.secret_encrypted) == secret
    assert device.secret_fingerprint == fingerprint(secret)
    assert device.history.first().history_user == officer
    # never again: not on the change page, not in the list, not in a message
    change = logged_in.get(reverse("admin:lots_device_change", args=[device.pk]))
    listing = logged_in.get(reverse("admin:lots_device_changelist"))
    assert secret not in change.text and secret not in listing.text
    assert access_key in listing.text and device.secret_fingerprint in listing.text


def test_device_for_other_region_lot_refused(logged_in, city):
    lot = LotFactory(code="BH-0500", region=city[BH])
    response = logged_in.post(reverse("admin:lots_device_add"), {"name": "x", "kind": "lot_system",
                                                                 "lots": [lot.pk]})
    assert response.status_code == 200 and "lots" in form_errors(response)
    assert not Device.objects.exists()


def test_rotate_shows_new_secret_and_old_stops(logged_in, city):
    from tests.factories import DeviceFactory

    lot = LotFactory(code="LX-0600", region=city[LX])
    device, old_secret = DeviceFactory.issue(lots=[lot])
    response = logged_in.post(reverse("admin:lots_device_changelist"),
                              {"action": "rotate_secret", "_selected_action": [device.pk]})
    assert response.status_code == 200
    access_key, new_secret = _secret_from(response)
    device.refresh_from_db()
    assert access_key == device.access_key
    assert new_secret != old_secret
    assert decrypt_secret(device.secret_encrypted) == new_secret
    assert device.history.first().history_user is not None


def test_revoke_action(logged_in, city, officer):
    from tests.factories import DeviceFactory

    lot = LotFactory(code="LX-0700", region=city[LX])
    device, _secret = DeviceFactory.issue(lots=[lot])
    response = logged_in.post(reverse("admin:lots_device_changelist"),
                              {"action": "revoke", "_selected_action": [device.pk]})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.revoked_at is not None
    assert device.history.first().history_user == officer
    listing = logged_in.get(reverse("admin:lots_device_changelist"), {"revoked": "yes"})
    assert list(listing.context["cl"].result_list) == [device]


def test_rotate_and_revoke_need_change_permission(client, city, staff_factory):
    from tests.factories import DeviceFactory

    lot = LotFactory(code="LX-0800", region=city[LX])
    device, _secret = DeviceFactory.issue(lots=[lot])
    user = staff_factory("operator", lot.operator)  # operators only view devices
    client.force_login(user)
    listing = client.get(reverse("admin:lots_device_changelist"))
    assert listing.status_code == 200 and "LX-0800" in listing.text
    action_form = listing.context["action_form"]  # None when no action is allowed at all
    actions = [name for name, _label in action_form.fields["action"].choices] if action_form else []
    assert "rotate_secret" not in actions and "revoke" not in actions
    client.post(reverse("admin:lots_device_changelist"), {"action": "revoke", "_selected_action": [device.pk]})
    device.refresh_from_db()
    assert device.revoked_at is None


def test_rotate_other_regions_device_does_nothing(logged_in, city):
    from tests.factories import DeviceFactory

    device, secret = DeviceFactory.issue(lots=[LotFactory(code="BH-0900", region=city[BH])])
    response = logged_in.post(reverse("admin:lots_device_changelist"),
                              {"action": "rotate_secret", "_selected_action": [device.pk]})
    assert response.status_code == 302
    device.refresh_from_db()
    assert decrypt_secret(device.secret_encrypted) == secret


def test_a_device_shared_with_another_region_is_read_only_and_its_key_cannot_be_taken(logged_in, city):
    """A 梁溪 officer sees a key that also reports for 滨湖 but can neither rotate, revoke nor edit
    it: rotating would hand them a secret that writes 滨湖's counts."""
    from tests.factories import DeviceFactory

    own, own2 = LotFactory(code="LX-1000", region=city[LX]), LotFactory(code="LX-1001", region=city[LX])
    foreign = LotFactory(code="BH-1000", region=city[BH])
    device, secret = DeviceFactory.issue(lots=[own, foreign])
    changelist = reverse("admin:lots_device_changelist")

    listing = logged_in.get(changelist)
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "LX-1000" in page and "BH-1000" not in page  # the other region's lot is counted, not named
    response = logged_in.post(changelist, {"action": "rotate_secret", "_selected_action": [device.pk]})
    assert response.status_code == 302
    response = logged_in.post(changelist, {"action": "revoke", "_selected_action": [device.pk]})
    assert response.status_code == 302
    response = logged_in.post(reverse("admin:lots_device_change", args=[device.pk]),
                              {"name": "改名", "kind": "lot_system", "lots": [own2.pk]})
    assert response.status_code == 403
    device.refresh_from_db()
    assert decrypt_secret(device.secret_encrypted) == secret
    assert device.revoked_at is None and device.name != "改名"
    assert set(device.lots.all()) == {own, foreign}


def test_editing_a_device_wholly_in_scope_changes_its_lots(logged_in, city):
    from tests.factories import DeviceFactory

    own, own2 = LotFactory(code="LX-1010", region=city[LX]), LotFactory(code="LX-1011", region=city[LX])
    device, _secret = DeviceFactory.issue(lots=[own])
    response = logged_in.post(reverse("admin:lots_device_change", args=[device.pk]),
                              {"name": "改名", "kind": "lot_system", "lots": [own2.pk]})
    assert response.status_code == 302, form_errors(response)
    device.refresh_from_db()
    assert device.name == "改名"
    assert set(device.lots.all()) == {own2}


def test_devices_cannot_be_deleted(client, city):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    listing = client.get(reverse("admin:lots_device_changelist"))
    actions = [name for name, _label in listing.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions and "rotate_secret" in actions and "revoke" in actions


# -- outages -------------------------------------------------------------------------------------
def test_outage_admin_is_read_only_with_duration_and_filters(logged_in, city):
    lot = LotFactory(code="LX-1100", region=city[LX])
    now = timezone.now()
    ended = LotOutage.objects.create(lot=lot, started_at=now - timedelta(hours=5),
                                     ended_at=now - timedelta(hours=3, minutes=30))
    ongoing = LotOutage.objects.create(lot=lot, started_at=now - timedelta(minutes=20))
    LotOutage.objects.create(lot=LotFactory(code="BH-1100", region=city[BH]), started_at=now)
    url = reverse("admin:lots_lotoutage_changelist")
    page = logged_in.get(url)
    assert page.context["cl"].result_count == 2
    assert "1小时30分" in page.text and "20分钟（仍离线）" in page.text
    assert list(logged_in.get(url, {"ongoing": "yes"}).context["cl"].result_list) == [ongoing]
    assert list(logged_in.get(url, {"ongoing": "no"}).context["cl"].result_list) == [ended]
    change = logged_in.get(reverse("admin:lots_lotoutage_change", args=[ended.pk]))
    assert change.status_code == 200 and change.context["has_change_permission"] is False
    assert logged_in.get(reverse("admin:lots_lotoutage_add")).status_code == 403


# -- berths --------------------------------------------------------------------------------------
def test_berth_admin_filters_by_lot_kind(logged_in, city):
    from apps.berths.models import Berth

    street = LotFactory(code="LX-1200", region=city[LX], kind="on_street", zone_class="core", road_class="arterial")
    garage = LotFactory(code="LX-1201", region=city[LX])
    Berth.objects.create(lot=street, code="S1")
    Berth.objects.create(lot=garage, code="G1")
    url = reverse("admin:berths_berth_changelist")
    result = logged_in.get(url, {"lot__kind__exact": "on_street"}).context["cl"].result_list
    assert [b.code for b in result] == ["S1"]


# -- the map widget in a real browser ------------------------------------------------------------
@pytest.fixture
def browser_page(live_server, client, city, monkeypatch):
    """A headless Chromium logged in as a superuser; tile requests fail, as on a closed network."""
    import shutil

    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls in the test are still
    # plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context()
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                              "url": live_server.url}])
        page = context.new_page()
        page.route("https://**/*", lambda route: route.abort())
        try:
            yield page
        finally:
            browser.close()
            close_connections_of_this_context()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_map_click_and_drag_fill_the_inputs(browser_page, live_server):
    page = browser_page
    page.goto(live_server.url + reverse(LOT_ADD))
    page.wait_for_selector(".wxp-coordinates-map.leaflet-container")
    page.select_option("select[name=coords_entered_as]", "gcj02")
    page.locator(".wxp-coordinates-map").click()  # scrolls it into view, clicks the centre
    lat, lon = float(page.input_value("input[name=position_lat]")), float(page.input_value("input[name=position_lon]"))
    assert abs(lat - 31.57) < 0.01 and abs(lon - 120.30) < 0.01  # the map's centre
    assert page.input_value("select[name=coords_entered_as]") == "wgs84"  # a map point is WGS-84
    marker = page.locator(".leaflet-marker-icon")
    assert marker.count() == 1
    # drag the marker to the right: longitude grows, latitude stays
    marker_box = marker.bounding_box()
    start = (marker_box["x"] + marker_box["width"] / 2, marker_box["y"] + marker_box["height"] - 4)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 60, start[1], steps=5)
    page.mouse.up()
    dragged_lon = float(page.input_value("input[name=position_lon]"))
    assert dragged_lon > lon + 0.001
    # typing moves the marker back
    page.fill("input[name=position_lat]", "31.49")
    page.fill("input[name=position_lon]", "120.25")
    centre = page.evaluate("() => { const c = document.querySelector('.wxp-coordinates').wxpMap.getCenter();"
                           " return [c.lat, c.lng]; }")
    assert abs(centre[0] - 31.49) < 1e-6 and abs(centre[1] - 120.25) < 1e-6


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_inputs_work_without_leaflet(browser_page, live_server, city):
    page = browser_page
    page.route("**/leaflet/leaflet.js", lambda route: route.abort())
    page.goto(live_server.url + reverse(LOT_ADD))
    assert page.locator(".wxp-coordinates-map").is_hidden()
    page.fill("input[name=code]", "LX-7777")
    page.fill("input[name=name]", "无地图也能保存")
    page.evaluate(f"() => {{ const s = document.querySelector('select[name=region]');"
                  f" s.add(new Option('梁溪区', '{city[LX].pk}', true, true)); }}")
    page.fill("input[name=position_lat]", "31.5623")
    page.fill("input[name=position_lon]", "120.3089")
    page.fill("input[name=total_berths]", "10")
    page.click("input[name=_save]")
    page.wait_for_url("**/lots/parkinglot/")
    # In the whole suite this thread's connection was once found ended by the server meanwhile
    # ("terminating connection due to administrator command", cause not found): read the saved lot
    # on a connection drawn afresh from the pool, which checks it before handing it out. (This body
    # runs in Playwright's context, with a connection of its own: tests/playwright_db.py.)
    connection.close()
    lot = ParkingLot.objects.get(code="LX-7777")
    assert (lot.lat, lot.lon) == (31.5623, 120.3089)


# -- export --------------------------------------------------------------------------------------
def test_export_is_one_query_text_safe_and_local_time(logged_in, city, django_assert_max_num_queries):
    import csv
    import io

    for i in range(15):
        LotFactory(code=f"LX-3{i:03d}", region=city[LX])
    went_offline = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)  # 08:30 in Wuxi
    LotFactory(code="LX-3999", region=city[LX], name="=HYPERLINK(\"http://x\")", offline_since=went_offline)
    pks = list(ParkingLot.objects.values_list("pk", flat=True))
    # +5: the session's TOTP device (django-otp, apps/common/mfa.py); the action's one audit entry, with
    # the ids of its rows, and the two reads that tell whether the action recorded itself
    # (apps/common/admin_login.py): constant whatever the number of lots
    with django_assert_max_num_queries(12 + 5):
        response = logged_in.post(reverse("admin:lots_parkinglot_changelist"),
                                  {"action": "export_csv", "_selected_action": pks})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 17
    header, last = rows[0], rows[-1]
    assert last[header.index("名称")] == "'=HYPERLINK(\"http://x\")"
    assert last[header.index("离线起始")] == "2026-03-01T08:30:00+08:00"
    assert last[header.index("类型")] == "路外停车场"


# -- history -------------------------------------------------------------------------------------
def test_history_shows_who_changed_what_and_cannot_revert(logged_in, city, officer):
    response = logged_in.post(reverse(LOT_ADD), lot_data(city, name="旧名字"))
    assert response.status_code == 302, form_errors(response)
    lot = ParkingLot.objects.get()
    url = reverse("admin:lots_parkinglot_change", args=[lot.pk])
    assert logged_in.post(url, lot_data(city, name="新名字")).status_code == 302
    page = logged_in.get(reverse("admin:lots_parkinglot_history", args=[lot.pk])).text
    assert "旧名字" in page and "新名字" in page and officer.username in page
    first = lot.history.earliest()
    revert_url = reverse("admin:lots_parkinglot_simple_history", args=[lot.pk, first.history_id])
    assert logged_in.get(revert_url).status_code == 200
    assert logged_in.post(revert_url, lot_data(city, name="旧名字")).status_code == 403
    lot.refresh_from_db()
    assert lot.name == "新名字"


def _unchanged_form(page) -> dict:
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, (list, tuple)):  # the map's lat/lon pair
            for i, part in enumerate(value):
                data[f"{name}_{'lat' if i == 0 else 'lon'}"] = part
            continue
        data[name] = "" if value is None else value
    return data


def test_a_form_never_clears_a_value_it_did_not_show(logged_in, city):
    """A 梁溪 lot priced by a 滨湖 tariff (set by the city): the officer is not offered that tariff,
    so the field is shown read-only and an unchanged save keeps it."""
    foreign_tariff = TariffFactory(region=city[BH], name="滨湖专用标准")
    lot = LotFactory(code="LX-0900", region=city[LX], tariff=foreign_tariff)
    url = reverse("admin:lots_parkinglot_change", args=[lot.pk])
    page = logged_in.get(url)
    assert "tariff" not in page.context["adminform"].form.fields
    assert "滨湖专用标准" not in page.text or 'name="tariff"' not in page.text
    response = logged_in.post(url, {**_unchanged_form(page), "name": "改了名字"})
    assert response.status_code == 302, form_errors(response)
    lot.refresh_from_db()
    assert (lot.name, lot.tariff) == ("改了名字", foreign_tariff)


def test_history_reads_in_chinese_field_names_and_value_labels(logged_in, city):
    """Issue 6 item 12: not ``category: hospital → public``, ``CHANGES``, ``None``."""
    response = logged_in.post(reverse(LOT_ADD), lot_data(city, category="hospital"))
    assert response.status_code == 302, form_errors(response)
    lot = ParkingLot.objects.get()
    tariff = TariffFactory(region=city[LX], name="梁溪医院标准")
    url = reverse("admin:lots_parkinglot_change", args=[lot.pk])
    response = logged_in.post(url, lot_data(city, category="public", tariff=tariff.pk, allow_pay_later="on"))
    assert response.status_code == 302, form_errors(response)
    page = logged_in.get(reverse("admin:lots_parkinglot_history", args=[lot.pk])).text
    assert "类别" in page and "医院" in page and "公共停车场" in page
    assert "收费标准" in page and "梁溪医院标准" in page
    assert "允许先离场后付费" in page and "否" in page and "是" in page
    for raw in ("hospital", "CHANGES", "Changes", "None", "Changed by", "Date/time"):
        assert raw not in page, raw


def test_a_shared_devices_page_and_history_name_only_the_viewers_lots(logged_in, city, staff_factory, client):
    """Issue 6 item 5: a key issued for a 梁溪 and a 滨湖 lot, seen by the 梁溪 officer."""
    from apps.lots.services import device_change
    from tests.factories import DeviceFactory

    own = LotFactory(code="LX-1100", name="梁溪甲停车场", region=city[LX])
    foreign = LotFactory(code="BH-1100", name="滨湖乙停车场", region=city[BH])
    foreign2 = LotFactory(code="BH-1101", name="滨湖丙停车场", region=city[BH])
    device, _secret = DeviceFactory.issue(lots=[own, foreign])
    device_change(device=device, name=device.name, kind=device.kind, lots=[own, foreign, foreign2],
                  actor=staff_factory("city"))
    change = logged_in.get(reverse("admin:lots_device_change", args=[device.pk]))
    assert change.status_code == 200 and not change.context["has_change_permission"]
    assert "梁溪甲停车场" in change.text and "另有 2 个其他辖区的停车场" in change.text
    history = logged_in.get(reverse("admin:lots_device_history", args=[device.pk]))
    assert history.status_code == 200
    assert "梁溪甲停车场" in history.text and "其他辖区的停车场" in history.text
    version = device.history.earliest()
    past = logged_in.get(reverse("admin:lots_device_simple_history", args=[device.pk, version.history_id]))
    assert past.status_code == 200
    for page in (change, history, past):
        assert "滨湖" not in page.text and "BH-110" not in page.text


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_lot_list_is_readable_at_1366_px_for_a_district_officer(live_server, client, city, monkeypatch,
                                                                   staff_factory):
    """Issue 6 item 12: names wrapped one character a line. At 1366×768 in Chinese, the list fits
    its column (no sideways scrolling) and a lot's name keeps several characters a line."""
    import shutil

    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    operator = OperatorFactory(name="无锡市梁溪城市停车管理有限公司", region=city[LX])
    tariff = TariffFactory(region=city[LX], name="无锡市区道路停车 核心片区干道")
    for i in range(5):
        LotFactory(code=f"LX-{i:04d}", name="无锡市第二人民医院停车场", region=city[LX], operator=operator,
                   tariff=tariff)
    client.force_login(staff_factory("region", LX))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                    args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
            context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                                  "url": live_server.url}])
            page = context.new_page()
            page.goto(live_server.url + reverse("admin:lots_parkinglot_changelist"))
            sizes = page.evaluate("""() => {
                const results = document.querySelector('#changelist-form .results');
                const name = document.querySelector('#result_list td.field-name');
                return {overflow: results.scrollWidth - results.clientWidth,
                        nameWidth: name.getBoundingClientRect().width,
                        fontSize: parseFloat(getComputedStyle(name).fontSize)};
            }""")
        finally:
            browser.close()
    assert sizes["overflow"] <= 1, sizes
    assert sizes["nameWidth"] >= 6 * sizes["fontSize"], sizes  # at least six characters a line
