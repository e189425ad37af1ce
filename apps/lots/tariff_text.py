"""A tariff (SPEC §6 JSON) in plain words for a citizen's lot card.

Pure like the fee engine: no Django. The wording follows the engine's semantics (a ladder counts time
from entry, the free period is not deducted once exceeded) so the card never promises less than is charged.
"""

from __future__ import annotations

from collections.abc import Mapping

from .fees import FeeInputError, validate_rules

__all__ = ["describe_rules", "describe_rules_en", "describe_rules_in", "describe_tariff", "describe_tariff_en",
           "describe_tariff_in"]

_CLASS_ZH = {"small": "小型车", "large": "大型车"}
_CLASS_EN = {"small": "small vehicles", "large": "large vehicles"}


def describe_rules(rules: Mapping, vehicle_class: str = "small") -> str:
    """The rules for one vehicle class in Chinese, parts separated by "；"."""
    body, multiplier, base = _resolve(rules, vehicle_class)
    scale = multiplier if _is_whole(multiplier) else 1
    parts: list[str] = []
    if base is not None:
        k = _number(multiplier)
        parts.append(f"按{_CLASS_ZH.get(base, base)}标准的{k}倍收费" + ("（下列金额已按倍数计）" if scale != 1 else ""))
    free = body.get("free_minutes") or 0
    parts.append(f"{free}分钟内免费，超时自入场起计费" if free else "无免费时段")
    parts.extend(_bands_zh(body["bands"], scale))
    if body.get("daily_cap_fen") is not None:
        parts.append(f"自入场起每24小时最高{_yuan(body['daily_cap_fen'] * scale)}")
    night = body.get("overnight")
    if night:
        after, before = night["entry_after"], night["exit_before"]
        span = f"{after}至{'次日' if _wraps(after, before) else ''}{before}"
        price = _price_zh(night["unit_minutes"], night["unit_fen"] * scale)
        cap = f"，最高{_yuan(night['cap_fen'] * scale)}" if night.get("cap_fen") is not None else ""
        parts.append(f"夜间{span}入场且{before}前离场的，{price}{cap}（与正常收费取低者）")
    if any(len(b["ladder"]) > 1 for b in body["bands"]):
        parts.append("计费时长自入场起算，每满24小时重新起算")
    ne = body.get("new_energy") or {}
    ne_bits = []
    if ne.get("free_minutes") is not None:
        ne_bits.append(f"{ne['free_minutes']}分钟内免费")
    if ne.get("discount_percent"):
        ne_bits.append(("超时" if ne_bits else "") + _discount_zh(ne["discount_percent"]))
    if ne_bits:
        parts.append("新能源车" + "，".join(ne_bits))
    return "；".join(parts)


def describe_rules_en(rules: Mapping, vehicle_class: str = "small") -> str:
    """The same description in English."""
    body, multiplier, base = _resolve(rules, vehicle_class)
    scale = multiplier if _is_whole(multiplier) else 1
    parts: list[str] = []
    if base is not None:
        parts.append(f"{_number(multiplier)}× the rate for {_CLASS_EN.get(base, base)}"
                     + (" (amounts below already multiplied)" if scale != 1 else ""))
    free = body.get("free_minutes") or 0
    parts.append(f"free for stays up to {free} min, longer stays are charged from entry" if free
                 else "no free period")
    parts.extend(_bands_en(body["bands"], scale))
    if body.get("daily_cap_fen") is not None:
        parts.append(f"at most {_yuan_en(body['daily_cap_fen'] * scale)} per 24 hours from entry")
    night = body.get("overnight")
    if night:
        after, before = night["entry_after"], night["exit_before"]
        price = _price_en(night["unit_minutes"], night["unit_fen"] * scale)
        cap = f", at most {_yuan_en(night['cap_fen'] * scale)}" if night.get("cap_fen") is not None else ""
        parts.append(f"overnight (entering {after}–{before}, leaving before {before}): {price}{cap}, "
                     "if cheaper")
    if any(len(b["ladder"]) > 1 for b in body["bands"]):
        parts.append("durations count from entry and restart every 24 hours")
    ne = body.get("new_energy") or {}
    ne_bits = []
    if ne.get("free_minutes") is not None:
        ne_bits.append(f"free for stays up to {ne['free_minutes']} min")
    if ne.get("discount_percent"):
        ne_bits.append(f"{ne['discount_percent']}% off")
    if ne_bits:
        parts.append("new-energy vehicles: " + ", ".join(ne_bits))
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------------


def _resolve(rules: Mapping, vehicle_class: str):
    validate_rules(rules)
    if vehicle_class not in rules:
        raise FeeInputError("vehicle_class", f"the tariff has no rules for {vehicle_class!r}")
    body = rules[vehicle_class]
    if "same_as" in body:
        return rules[body["same_as"]], body.get("multiplier", 1), body["same_as"]
    return body, 1, None


def _is_whole(number) -> bool:
    return isinstance(number, int) or (isinstance(number, float) and number.is_integer())


def _number(number) -> str:
    return str(int(number)) if _is_whole(number) else f"{number:g}"


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _wraps(start: str, end: str) -> bool:
    return _minutes(end) < _minutes(start)


def _day_pieces(bands: list) -> list[tuple[str, str, dict | None]]:
    """The day in order from the first band's start: (start, end, band or None for a free gap)."""
    if not bands:
        return []
    ordered = sorted(bands, key=lambda b: _minutes(b["start"]))
    pieces: list[tuple[str, str, dict | None]] = []
    for i, band in enumerate(ordered):
        pieces.append((band["start"], band["end"], band))
        following = ordered[(i + 1) % len(ordered)]["start"]
        end = "00:00" if band["end"] == "24:00" else band["end"]
        if end != following and not (band["start"] == "00:00" and band["end"] == "24:00"):
            pieces.append((band["end"], following, None))
    return pieces


def _label(start: str, end: str) -> str:
    if start == "00:00" and end == "24:00":
        return "全天"
    return f"{start}-{end}"


def _bands_zh(bands: list, scale) -> list[str]:
    if not bands:
        return ["全天免费"]
    out = []
    for start, end, band in _day_pieces(bands):
        if band is None:
            out.append(f"{_label(start, end)} 免费")
            continue
        text = f"{_label(start, end)} {_ladder_zh(band['ladder'], scale)}"
        if band.get("cap_fen") is not None:
            text += f"，最高{_yuan(band['cap_fen'] * scale)}"
        out.append(text)
    return out


def _bands_en(bands: list, scale) -> list[str]:
    if not bands:
        return ["free all day"]
    out = []
    for start, end, band in _day_pieces(bands):
        label = "all day" if (start, end) == ("00:00", "24:00") else f"{start}–{end}"
        if band is None:
            out.append(f"{label} free")
            continue
        text = f"{label} {_ladder_en(band['ladder'], scale)}"
        if band.get("cap_fen") is not None:
            text += f", at most {_yuan_en(band['cap_fen'] * scale)}"
        out.append(text)
    return out


def _ladder_steps(ladder: list, scale):
    """The ladder as the words walk it, whatever the language: ``(part, start, end, unit_minutes,
    fen)`` per step, ``part`` being "only", "first", "middle" or "last" ("last" with end None)."""
    if len(ladder) == 1:
        yield "only", 0, None, ladder[0]["unit_minutes"], ladder[0]["unit_fen"] * scale
        return
    for i, step in enumerate(ladder):
        part = "first" if i == 0 else "last" if i == len(ladder) - 1 else "middle"
        end = ladder[i + 1]["after_minutes"] if part != "last" else None
        yield part, step["after_minutes"], end, step["unit_minutes"], step["unit_fen"] * scale


def _ladder_zh(ladder: list, scale) -> str:
    bits = []
    for part, start, end, unit, fen in _ladder_steps(ladder, scale):
        if part == "only":
            return _price_zh(unit, fen)
        if part == "first":
            head = "首小时" if end == 60 else f"首{_duration_zh(end)}"
            # One unit covering the first step reads "首2小时2元".
            bits.append(head + ((_yuan(fen) if fen else "免费") if unit == end else _price_zh(unit, fen)))
        elif part == "last":
            lead = "之后" if len(ladder) == 2 else f"{_duration_zh(start)}后"
            bits.append(lead + _price_zh(unit, fen))
        else:
            span = f"{start // 60}至{end // 60}小时" if start % 60 == 0 and end % 60 == 0 else f"{start}至{end}分钟"
            bits.append(span + _price_zh(unit, fen))
    return "，".join(bits)


def _ladder_en(ladder: list, scale) -> str:
    bits = []
    for part, start, end, unit, fen in _ladder_steps(ladder, scale):
        if part == "only":
            return _price_en(unit, fen)
        if part == "first":
            head = "first hour" if end == 60 else f"first {_duration_en(end)}"
            bits.append(f"{head} {(_yuan_en(fen) if fen else 'free') if unit == end else _price_en(unit, fen)}")
        elif part == "last":
            bits.append(f"after {_duration_en(start)} {_price_en(unit, fen)}")
        else:
            span = f"hours {start // 60}–{end // 60}" if start % 60 == 0 and end % 60 == 0 else f"{start}–{end} min"
            bits.append(f"{span} {_price_en(unit, fen)}")
    return ", ".join(bits)


def _duration_zh(minutes: int) -> str:
    if minutes == 30:
        return "半小时"
    if minutes % 60 == 0:
        return f"{minutes // 60}小时"
    return f"{minutes}分钟"


def _duration_en(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return "1 hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} min"


def _price_zh(unit_minutes: int, fen) -> str:
    if not fen:
        return "免费"
    per = "每小时" if unit_minutes == 60 else f"每{_duration_zh(unit_minutes)}"
    return f"{per}{_yuan(fen)}"


def _price_en(unit_minutes: int, fen) -> str:
    if not fen:
        return "free"
    per = "hour" if unit_minutes == 60 else _duration_en(unit_minutes)
    return f"{_yuan_en(fen)} per {per}"


def _yuan_digits(fen) -> str:
    fen = int(fen)
    yuan, rest = divmod(fen, 100)
    if rest == 0:
        return str(yuan)
    if rest % 10 == 0:
        return f"{yuan}.{rest // 10}"
    return f"{yuan}.{rest:02d}"


def _yuan(fen) -> str:
    return f"{_yuan_digits(fen)}元"


def _yuan_en(fen) -> str:
    return f"¥{_yuan_digits(fen)}"


def _discount_zh(percent: int) -> str:
    if percent == 50:
        return "半价"
    if percent >= 100:
        return "免费"
    tenths = 100 - percent  # 20% off is 8折, 25% off is 7.5折
    return f"{tenths // 10}折" if tenths % 10 == 0 else f"{tenths / 10:g}折"


def describe_rules_in(language: str | None, rules: Mapping, vehicle_class: str = "small") -> str:
    """The tariff in words in ``language`` (a Django language code): English for ``en*``, else Chinese."""
    describe = describe_rules_en if _is_english(language) else describe_rules
    return describe(rules, vehicle_class)


# ---------------------------------------------------------------------------------------------------
# The whole tariff: the main class in full, then how every other class is charged. A driver of a
# van reads the card too, so the large-vehicle rule is never left out.


def describe_tariff(rules: Mapping) -> str:
    """Every vehicle class of a tariff in Chinese: the main class's rules, then one sentence a class
    ("大型车按小型车的2倍收费", or "大型车：" and its own rules)."""
    main = _main_class(rules)
    sentences = [describe_rules(rules, main)]
    for name in _other_classes(rules, main):
        body = rules[name]
        label = _CLASS_ZH.get(name, name)
        if "same_as" in body:
            base = _CLASS_ZH.get(body["same_as"], body["same_as"])
            multiplier = body.get("multiplier", 1)
            sentences.append(f"{label}与{base}收费相同" if multiplier == 1
                             else f"{label}按{base}的{_number(multiplier)}倍收费")
        else:
            sentences.append(f"{label}另有收费标准：{describe_rules(rules, name)}")
    return "。".join(sentences)


def describe_tariff_en(rules: Mapping) -> str:
    """The same in English."""
    main = _main_class(rules)
    sentences = [describe_rules_en(rules, main)]
    for name in _other_classes(rules, main):
        body = rules[name]
        label = _CLASS_EN.get(name, name)
        label = label[:1].upper() + label[1:]
        if "same_as" in body:
            base = _CLASS_EN.get(body["same_as"], body["same_as"])
            multiplier = body.get("multiplier", 1)
            sentences.append(f"{label} pay the same as {base}" if multiplier == 1
                             else f"{label} pay {_number(multiplier)}× the rate for {base}")
        else:
            sentences.append(f"{label} have their own rates: {describe_rules_en(rules, name)}")
    return ". ".join(sentences)


def describe_tariff_in(language: str | None, rules: Mapping) -> str:
    """The whole tariff in ``language`` (a Django language code): English for ``en*``, else Chinese."""
    return describe_tariff_en(rules) if _is_english(language) else describe_tariff(rules)


def _is_english(language: str | None) -> bool:
    return (language or "").lower().startswith("en")


def _main_class(rules: Mapping) -> str:
    """The class the card describes in full: small cars where the tariff has them, else one with
    rules of its own (a ``same_as`` class is described through its base)."""
    validate_rules(rules)
    if "small" in rules:
        return "small"
    own = [name for name, body in rules.items() if "same_as" not in body]
    return own[0] if own else next(iter(rules))


def _other_classes(rules: Mapping, main: str) -> list[str]:
    """The other classes, large vehicles first, then the rest in the tariff's order."""
    return sorted((name for name in rules if name != main), key=lambda name: name != "large")
