"""Races, with real threads and real server processes: a message WeChat retries while the first
delivery is still at work is acted on once across processes sharing Redis; two citizens binding one
plate leave it with one holder; a citizen never passes 3 plates by binding in parallel."""

from __future__ import annotations

import httpx
import pytest

from apps.wechat.errors import PlateProofRequired, TooManyPlates
from apps.wechat.models import BoundPlate
from apps.wechat.services import citizen_for_identity, plate_bind
from tests.realtime.live import live_servers, process_options, shared_database_name
from tests.threads import run_together
from tests.wechat import fake as wechat

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.redis
@pytest.mark.slow
def test_a_message_delivered_to_two_server_processes_at_once_is_acted_on_once(tmp_path):
    options = process_options(shared_database_name(tmp_path), settings={
        "WECHAT_TOKEN": wechat.TOKEN, "WECHAT_APP_ID": wechat.APP_ID, "WECHAT_SITE_URL": "https://park.example.cn"})
    with live_servers(2, options) as servers:
        for round_ in range(5):
            openid, plate = f"o-race-{round_}", f"苏B1000{round_}"
            xml = wechat.text_xml(openid, f"绑定 {plate}", msg_id=990000 + round_)

            def deliver(server, xml=xml):
                params, _ts, _nonce = wechat._query()
                response = httpx.post(server.url + "/wechat/", params=params, content=xml.encode(), timeout=30)
                assert response.status_code == 200, response.text
                return wechat.reply_in(response)

            replies = run_together([lambda s=server: deliver(s) for server in servers])
            acted = [reply for reply in replies if reply and reply.startswith("已绑定车牌")]
            assert len(acted) >= 1, replies
            # A second action would have answered "already bound to your account"; a retry gets the
            # first delivery's reply (or "success" while the first is still at work).
            assert all(reply is None or reply == acted[0] for reply in replies), replies
            assert list(BoundPlate.objects.filter(plate=plate).values_list("citizen__identities__openid",
                                                                           flat=True)) == [openid]


def test_two_citizens_binding_one_plate_leave_it_one_holder():
    citizens = [citizen_for_identity(app_id=wechat.APP_ID, openid=f"o-plate-{i}") for i in range(4)]

    def bind(citizen):
        def job():
            try:
                plate_bind(citizen=citizen, plate="苏B12345")
                return "bound"
            except PlateProofRequired:
                return "refused"
        return job

    results = run_together([bind(citizen) for citizen in citizens])
    assert sorted(results) == ["bound", "refused", "refused", "refused"]
    assert BoundPlate.objects.filter(plate="苏B12345").count() == 1


def test_binding_in_parallel_never_passes_three_plates():
    citizen = citizen_for_identity(app_id=wechat.APP_ID, openid="o-many")

    def bind(plate):
        def job():
            try:
                plate_bind(citizen=citizen, plate=plate)
                return "bound"
            except TooManyPlates:
                return "refused"
        return job

    results = run_together([bind(f"苏B2000{i}") for i in range(6)])
    assert sorted(results) == ["bound"] * 3 + ["refused"] * 3
    assert BoundPlate.objects.filter(citizen=citizen).count() == 3
