"""Word's field switches, applied as Word applies them (en-GB): general formats (`\\* Upper`,
`\\* Caps`, `\\* Ordinal`, ...), numeric pictures (`\\# "#,##0.00"`) and date pictures
(`\\@ "d MMMM yyyy"`). ECMA-376 Part 1, §17.16.4, and Word's own documentation; where other
mail-merge programs differ from Word (docx-mailmerge multiplies by 100 for `%`, and drops the
spaces `#` stands for), Word wins.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

MONTHS = (
    "January February March April May June July August September October November December".split()
)
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
# A date as text, the ways letter-merge and workbooks write one.
DATE_FORMATS = ("%d %B %Y", "%d/%m/%Y", "%Y-%m-%d", "%d %b %Y", "%d-%m-%Y", "%Y-%m-%d %H:%M:%S")
NUMBER = re.compile(r"\s*[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?\s*")


def as_number(value: Any) -> Decimal | None:
    """The value as a number, also when it is text that reads as one ("1,204", "3.5")."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    text = str(value)
    if not text.strip() or not NUMBER.fullmatch(text) or not re.search(r"\d", text):
        return None
    try:
        return Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        return None


def as_date(value: Any) -> dt.datetime | None:
    """The value as a date (and time), also when it is text that reads as one ("22 July 2020"),
    as Word reads a date from text for a date picture."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, str):
        return None
    for pattern in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value.strip(), pattern)
        except ValueError:
            continue
    return None


def plain(value: Any) -> str:
    """A value as Word's merge prints it without switches: a whole number without a point, a
    date as '22 July 2020', nothing for an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime) and (value.hour, value.minute, value.second) == (0, 0, 0):
        return f"{value.day} {MONTHS[value.month - 1]} {value.year}"
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return f"{value.day} {MONTHS[value.month - 1]} {value.year}"
    return str(value)


# -- \* general formats ------------------------------------------------------------------------


def general_format(text: str, argument: str) -> str:
    """`\\* argument` on a result. MERGEFORMAT and CHARFORMAT say how the result is formatted,
    not what it says: they change nothing here."""
    name = argument.strip()
    key = name.lower()
    if key == "upper":
        return text.upper()
    if key == "lower":
        return text.lower()
    if key == "caps":
        # Word capitalises each word and makes the rest lower case ("SMITH" -> "Smith").
        return re.sub(r"[^\W\d_]+", lambda m: m.group()[0].upper() + m.group()[1:].lower(), text)
    if key == "firstcap":
        return re.sub(r"[^\W\d_]", lambda m: m.group().upper(), text, count=1)
    number = as_number(text)
    if number is None or key in ("mergeformat", "charformat"):
        return text
    whole = int(number.to_integral_value(ROUND_HALF_UP))
    if key == "arabic":
        return str(whole)
    if key == "roman":
        roman = roman_numeral(whole)
        return roman if name == "ROMAN" else roman.lower()
    if key == "alphabetic":
        letters = alphabetic(whole)
        return letters if name == "ALPHABETIC" else letters.lower()
    if key == "ordinal":
        return f"{whole}{_ordinal_suffix(whole)}"
    if key == "cardtext":
        return _words(whole)
    if key == "ordtext":
        return _ordinal_words(whole)
    if key == "hex":
        return f"{whole:X}"
    if key == "dollartext":
        pence = int((number * 100).to_integral_value(ROUND_HALF_UP)) % 100
        return f"{_words(int(number))} and {pence:02d}/100"
    return text


def roman_numeral(number: int) -> str:
    """Word's ROMAN: I, II, III... (a number below 1 as it is)."""
    if number <= 0:
        return str(number)
    values = (
        (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
        (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
    )  # fmt: skip
    out = ""
    for value, letters in values:
        while number >= value:
            out += letters
            number -= value
    return out


def alphabetic(number: int) -> str:
    """Word's alphabetic: A..Z, then AA..ZZ, AAA... (the letter repeated)."""
    if number <= 0:
        return str(number)
    return chr(ord("A") + (number - 1) % 26) * ((number - 1) // 26 + 1)


def _ordinal_suffix(number: int) -> str:
    if number % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip


def _words(number: int) -> str:
    """A whole number in words, as Word's CardText writes it ("one hundred twenty-three")."""
    if number < 0:
        return "minus " + _words(-number)
    if number < 20:
        return UNITS[number]
    if number < 100:
        tens, units = divmod(number, 10)
        return TENS[tens] + (f"-{UNITS[units]}" if units else "")
    for size, name in (
        (10**9, "billion"),
        (10**6, "million"),
        (1000, "thousand"),
        (100, "hundred"),
    ):
        if number >= size:
            high, rest = divmod(number, size)
            return f"{_words(high)} {name}" + (f" {_words(rest)}" if rest else "")
    return str(number)


def _ordinal_words(number: int) -> str:
    words = _words(number)
    head, _, last = words.rpartition(" ")
    stem, dash, unit = last.rpartition("-")
    if unit in ORDINAL_WORDS:
        unit = ORDINAL_WORDS[unit]
    elif unit.endswith("y"):
        unit = unit[:-1] + "ieth"
    else:
        unit += "th"
    last = f"{stem}{dash}{unit}"
    return f"{head} {last}" if head else last


# -- \# numeric pictures -----------------------------------------------------------------------


def numeric_picture(value: Any, picture: str) -> str | None:
    """`\\# picture` on a value; None when the value is not a number (Word then leaves it as it
    is). `0` is a digit or 0, `#` a digit or, where there is none, a space, `x` drops digits to
    its left (or rounds at its place), `.` and `,` are the decimal point and the thousands
    separator, `-` and `+` signs, 'text' and any other character are printed as they are ('%'
    too: nothing is multiplied by 100), and `positive;negative;zero` pictures choose by the
    value's sign."""
    number = as_number(value)
    if number is None:
        return None
    sections = _sections(picture)
    if len(sections) > 1 and number < 0:
        return _apply_picture(-number, sections[1], negative=True, own_sign=True)
    if len(sections) > 2 and number == 0:
        return _apply_picture(number, sections[2], negative=False, own_sign=True)
    return _apply_picture(abs(number), sections[0], negative=number < 0, own_sign=False)


def _sections(picture: str) -> list[str]:
    """The picture split at `;` outside 'quoted text'."""
    sections, current, quoted = [], "", False
    for char in picture:
        if char == "'":
            quoted = not quoted
        if char == ";" and not quoted:
            sections.append(current)
            current = ""
        else:
            current += char
    sections.append(current)
    return sections


Item = tuple[str, str]  # (kind, text): 'digit' (0 # x), '.', ',', 'sign' (+ -), 'text'


def _items(picture: str) -> list[Item]:
    items: list[Item] = []
    index = 0
    while index < len(picture):
        char = picture[index]
        if char == "'":
            end = picture.find("'", index + 1)
            end = len(picture) if end < 0 else end
            items.append(("text", picture[index + 1 : end]))
            index = end + 1
            continue
        kind = (
            "digit"
            if char in "0#x"
            else char
            if char in ".,"
            else "sign"
            if char in "+-"
            else "text"
        )
        items.append((kind, char))
        index += 1
    return items


def _apply_picture(magnitude: Decimal, picture: str, *, negative: bool, own_sign: bool) -> str:
    items = _items(picture)
    point = next((i for i, (kind, _) in enumerate(items) if kind == "."), len(items))
    whole, fraction = items[:point], items[point + 1 :]
    places = [text for kind, text in fraction if kind == "digit"]
    if "x" in places:  # rounded at the x, and nothing after it
        places = places[: places.index("x") + 1]
    rounded = magnitude.quantize(Decimal(1).scaleb(-len(places)), rounding=ROUND_HALF_UP)
    whole_digits, _, fraction_digits = f"{rounded:f}".partition(".")
    fraction_digits = fraction_digits.ljust(len(places), "0")
    shown_fraction = ""
    for position, place in enumerate(places):
        if place == "#" and not fraction_digits[position:].rstrip("0"):
            break  # trailing zeros under # are left out
        shown_fraction += fraction_digits[position]

    def sign(text: str) -> str:
        if text == "-":
            return "-" if negative else " "
        return "+" if magnitude > 0 and not negative else "-" if negative else " "

    result = _whole(whole_digits.lstrip("0"), whole, sign)
    if point < len(items):
        result += "." + shown_fraction if shown_fraction or not places else ""
        for kind, text in fraction:
            if kind == "sign":
                result += sign(text)
            elif kind in ("text", ","):
                result += text
    if negative and not own_sign and not any(kind == "sign" for kind, _ in items):
        stripped = result.lstrip()
        result = result[: len(result) - len(stripped)] + "-" + stripped
    return result


def _whole(digits: str, items: list[Item], sign: Any) -> str:
    """The whole part: the digits filling the digit places from the right (an empty place is 0
    under `0` and `x`, a space under `#`; digits beyond the places go before the first), with
    thousands separators every three digits when the picture has any."""
    places = [index for index, (kind, _) in enumerate(items) if kind == "digit"]
    if "x" in {items[p][1] for p in places}:
        first_x = next(p for p in places if items[p][1] == "x")
        keep = len([p for p in places if p >= first_x])
        digits = digits[-keep:] if keep else ""
    filled: dict[int, str] = {}
    remaining = list(digits)
    for place in reversed(places):
        filled[place] = remaining.pop() if remaining else " " if items[place][1] == "#" else "0"
    overflow = "".join(remaining)

    def literal(kind: str, text: str) -> str:
        return sign(text) if kind == "sign" else text

    if not places:
        return overflow + "".join(literal(k, t) for k, t in items if k != ",")
    if any(kind == "," for kind, _ in items):
        block = list(overflow) + [filled[p] for p in places]
        grouped = ""
        for position, char in enumerate(block):
            grouped += char
            left = len(block) - position - 1  # digits still to come
            if left and left % 3 == 0:
                grouped += " " if char == " " else ","
        before = "".join(literal(k, t) for k, t in items[: places[0]] if k != ",")
        after = "".join(literal(k, t) for k, t in items[places[-1] + 1 :] if k != ",")
        return before + grouped + after
    out = ""
    for index, (kind, text) in enumerate(items):
        if index == places[0]:
            out += overflow
        out += filled[index] if kind == "digit" else literal(kind, text)
    return out


# -- \@ date pictures --------------------------------------------------------------------------

DATE_ITEM = re.compile(
    r"'[^']*'|[dD]{1,4}|M{1,4}|[yY]{4}|[yY]{2}|H{1,2}|h{1,2}|m{1,2}|s{1,2}|am/pm|AM/PM|.",
)


def date_picture(value: Any, picture: str) -> str | None:
    """`\\@ picture` on a value; None when it is not a date. d dd ddd dddd (day of the month,
    or the weekday's name), M MM MMM MMMM (month), yy yyyy (year), H HH h hh (hour), m mm
    (minute), s ss (second), am/pm, 'text'; other characters as they are."""
    moment = as_date(value)
    if moment is None:
        return None
    out = ""
    for item in DATE_ITEM.findall(picture):
        out += _date_item(moment, item)
    return out


def _date_item(moment: dt.datetime, item: str) -> str:
    if item.startswith("'") and item.endswith("'") and len(item) >= 2:
        return item[1:-1]
    lower = item.lower()
    if lower in ("d", "dd"):
        return str(moment.day).zfill(len(item))
    if lower == "ddd":
        return DAYS[moment.weekday()][:3]
    if lower == "dddd":
        return DAYS[moment.weekday()]
    if item in ("M", "MM"):
        return str(moment.month).zfill(len(item))
    if item == "MMM":
        return MONTHS[moment.month - 1][:3]
    if item == "MMMM":
        return MONTHS[moment.month - 1]
    if lower == "yy":
        return f"{moment.year % 100:02d}"
    if lower == "yyyy":
        return str(moment.year)
    if item in ("H", "HH"):
        return str(moment.hour).zfill(len(item))
    if item in ("h", "hh"):
        return str(moment.hour % 12 or 12).zfill(len(item))
    if item in ("m", "mm"):
        return str(moment.minute).zfill(len(item))
    if item in ("s", "ss"):
        return str(moment.second).zfill(len(item))
    if lower == "am/pm":
        half = "AM" if moment.hour < 12 else "PM"
        return half if item == "AM/PM" else half.lower()
    return item
