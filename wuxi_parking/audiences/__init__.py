"""The URL modules, one per audience (STYLE.md "Routers per audience"), mounted by ``wuxi_parking.urls``.

Who calls decides where a view goes, because the audience fixes how it authenticates:

- ``public``    ``/api/v1/...``           no login: lots, nearest, the map GeoJSON, fee quotes, open data
- ``citizen``   ``/api/v1/me/...``        a citizen's own plates, stays and arrears (login)
- ``ingest``    ``/api/v1/ingest/...``    lot systems and devices, signed with their key (SPEC §3)
- ``staff``     ``/api/v1/staff/...``     government and operator staff, scoped to their region or lots
- ``providers`` ``/payments/notify/...``  payment providers' callbacks, verified by their signature

Each app keeps its own URL modules; these only say which audience an app's routes serve and
where they are mounted. tests/test_urls.py checks that every view sits with its audience.
"""
