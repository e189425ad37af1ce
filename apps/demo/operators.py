"""The demo city's operators (经营单位): fictional companies with well-formed registry codes.

Names read like Wuxi's: the city's state-owned parking company, one state-owned company per
district, a public-institution car-park centre and private mall and property managers. Every
unified social credit code is built as GB 32100-2015 lays it out (registration authority, kind,
the division code, a GB 11714 organisation code with its own check character) and ends with the
GB 32100 check character, so it passes the same validator staff input does. They are made up;
any match with a real company is a coincidence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from apps.regions.validators import CREDIT_CODE_CHARSET, credit_code_check_char

from .names import CONTACT_NAMES

__all__ = ["OPERATORS", "OperatorSpec", "operator_for", "organisation_code"]

_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714-1997


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    key: str
    name: str
    ownership: str  # Operator.Ownership value
    region: str  # the division it is registered in
    role: str  # city | district | institution | commercial | property
    credit_code: str
    contact_name: str
    contact_phone: str
    bank: str
    account_no: str


def organisation_code(body8: str) -> str:
    """An organisation code (GB 11714): eight characters and their check character."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body8 + ("X" if check == 10 else "0" if check == 11 else str(check))


_BANKS: Final = ("中国工商银行无锡分行营业部", "中国建设银行无锡分行", "江苏银行无锡分行", "无锡农村商业银行",
                 "中国银行无锡分行", "交通银行无锡分行", "江阴农村商业银行", "中国农业银行宜兴支行")
# Letters a credit code allows (no I, O, S, V, Z), for the new-style organisation codes "MA…".
_CODE_CHARS: Final = CREDIT_CODE_CHARSET


def _spec(key: str, name: str, ownership: str, region: str, role: str, *, institution: bool = False) -> OperatorSpec:
    # A per-operator generator, so adding an operator never changes another one's codes.
    rng = random.Random(f"wuxi-demo-operator:{key}")
    if institution:  # 事业单位: registered by 机构编制 (1) as kind 2, old-style numeric organisation code
        head, org = "12", organisation_code("466" + "".join(rng.choice("0123456789") for _ in range(5)))
    else:  # 企业: registered by 市场监管 (9) as kind 1, new-style organisation code "MA…"
        head, org = "91", organisation_code("MA" + "".join(rng.choice(_CODE_CHARS) for _ in range(6)))
    division = region if region.isdigit() else "320200"  # the 经开区 registers under the city
    first17 = head + division + org
    return OperatorSpec(
        key=key, name=name, ownership=ownership, region=region, role=role,
        credit_code=first17 + credit_code_check_char(first17),
        contact_name=rng.choice(CONTACT_NAMES),
        contact_phone="0510-8" + "".join(rng.choice("0123456789") for _ in range(7)),
        bank=rng.choice(_BANKS),
        account_no=rng.choice("123456") + "".join(rng.choice("0123456789") for _ in range(18)),
    )


OPERATORS: Final[tuple[OperatorSpec, ...]] = (
    _spec("chengfa", "无锡城发智慧停车有限公司", "state_owned", "320200", "city"),
    _spec("parking-centre", "无锡市公共停车管理服务中心", "government", "320200", "institution", institution=True),
    _spec("district-320213", "无锡市梁溪城市停车管理有限公司", "state_owned", "320213", "district"),
    _spec("district-320211", "无锡市滨湖静态交通投资有限公司", "state_owned", "320211", "district"),
    _spec("district-320214", "无锡市新吴交通停车服务有限公司", "state_owned", "320214", "district"),
    _spec("district-320206", "无锡市惠山城市停车运营有限公司", "state_owned", "320206", "district"),
    _spec("district-320205", "无锡市锡山静态交通管理有限公司", "state_owned", "320205", "district"),
    _spec("district-3202JK", "无锡经开城市运营停车有限公司", "state_owned", "3202JK", "district"),
    _spec("district-320281", "江阴市城市停车管理有限公司", "state_owned", "320281", "district"),
    _spec("district-320282", "宜兴市城投停车服务有限公司", "state_owned", "320282", "district"),
    _spec("hengtai", "无锡恒泰商业管理有限公司", "private", "320213", "commercial"),
    _spec("hupan", "无锡湖畔商业运营管理有限公司", "private", "320211", "commercial"),
    _spec("xian", "江苏锡安智慧停车科技有限公司", "private", "320214", "commercial"),
    _spec("dongting", "无锡东亭商业管理有限公司", "private", "320205", "commercial"),
    _spec("wanjia", "无锡万家物业服务有限公司", "private", "320213", "property"),
    _spec("ruijing", "无锡瑞景物业管理有限公司", "private", "320211", "property"),
    _spec("chengjiang", "江阴澄江物业服务有限公司", "private", "320281", "property"),
    _spec("yangxian", "宜兴阳羡物业管理有限公司", "private", "320282", "property"),
)
_BY_ROLE: Final = {role: [o for o in OPERATORS if o.role == role] for role in
                   ("commercial", "property")}


def operator_for(*, kind: str, category: str, zone: str, region: str, rng: random.Random) -> str:
    """Who runs a lot: the city company the central streets, stations and pilot hospitals; the
    district company outer streets, public lots and parks; private managers malls, offices and estates."""
    if kind == "on_street":
        return "chengfa" if zone in ("core", "center") else f"district-{region}"
    if category in ("hospital", "transport"):
        return "chengfa"
    if category == "public":
        return "parking-centre" if rng.random() < 0.15 else f"district-{region}"
    if category == "scenic":
        return f"district-{region}"
    pool = _BY_ROLE["property" if category == "residential" else "commercial"]
    local = [o for o in pool if o.region == region]
    return rng.choice(local or pool).key
