"""The eight categories issue 8 names, with the SLA they start with (staff edit them afterwards).
Plain data: the seeding migration and ``services.categories_ensure`` both read it."""

CATEGORIES = [
    # code, name, respond hours, resolve working days, 12345 category names
    ("fee_dispute", "收费争议", 2, 5, "停车收费,收费争议,乱收费"),
    ("wrong_charge", "错误扣费", 2, 3, "错误扣费,重复扣费,无感支付扣费"),
    ("equipment_fault", "设备故障", 2, 2, "道闸故障,设备故障,缴费设备"),
    ("berth_occupied", "泊位被占", 1, 1, "泊位被占,占用车位,违停占位"),
    ("staff_attitude", "服务态度", 4, 5, "服务态度,工作人员"),
    ("payment_failure", "支付失败", 2, 3, "支付失败,缴费失败"),
    ("suggestion", "意见建议", 24, 15, "意见建议,建议"),
    ("other", "其他", 4, 10, "其他"),
]


def ensure(category_model) -> None:
    """Create the categories that are missing (existing rows, edited by staff, are left alone)."""
    for position, (code, name, hours, days, names_12345) in enumerate(CATEGORIES, start=1):
        category_model.objects.get_or_create(code=code, defaults={
            "name": name, "respond_hours": hours, "resolve_working_days": days, "names_12345": names_12345,
            "position": position})
