"""SPEC §6's two example tariffs, verbatim: pure data, importable without Django."""

CORE = {
    "small": {
        "free_minutes": 30,
        "bands": [
            {"start": "07:00", "end": "09:00", "ladder": [{"after_minutes": 0, "unit_minutes": 30, "unit_fen": 500}]},
            {"start": "09:00", "end": "17:00", "ladder": [{"after_minutes": 0, "unit_minutes": 30, "unit_fen": 300},
                                                         {"after_minutes": 60, "unit_minutes": 30, "unit_fen": 400}]},
            {"start": "17:00", "end": "20:00", "ladder": [{"after_minutes": 0, "unit_minutes": 30, "unit_fen": 500}],
             "cap_fen": 2000},
        ],
        "new_energy": {"free_minutes": 120, "discount_percent": 50},
    },
    "large": {"same_as": "small", "multiplier": 2},
}
HOSPITAL = {
    "small": {
        "free_minutes": 60,
        "bands": [{"start": "00:00", "end": "24:00", "ladder": [
            {"after_minutes": 0, "unit_minutes": 120, "unit_fen": 200},
            {"after_minutes": 120, "unit_minutes": 60, "unit_fen": 200},
            {"after_minutes": 240, "unit_minutes": 60, "unit_fen": 300},
            {"after_minutes": 420, "unit_minutes": 60, "unit_fen": 500}]}],
        "daily_cap_fen": 4000,
        "overnight": {"entry_after": "20:00", "exit_before": "07:00", "unit_minutes": 60, "unit_fen": 100,
                      "cap_fen": 500},
    }
}


