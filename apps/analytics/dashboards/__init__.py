"""The supervision dashboards (issue 11 items 2–4): the 2025/2026 targets and their league table
(``targets``), the region rollups the panels read (``rollup``), the panels as tables (``panels``),
their exports (``exports``) and the admin page (``admin``)."""
