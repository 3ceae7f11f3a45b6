"""Word's field switches, each with the result Word's own documentation gives (Format field
results, and ECMA-376 Part 1 §17.16.4); where docx-mailmerge2 prints something else, the case is
marked and Word's result is the one expected."""

from __future__ import annotations

import datetime as dt

import pytest

from letter_merge.template.switches import date_picture, general_format, numeric_picture, plain


@pytest.mark.parametrize(
    ("picture", "value", "printed"),
    [
        ("00.00", 9, "09.00"),  # Word: { = 4 + 5 \# 00.00 }
        ("$###", 15, "$ 15"),  # Word: a space for each # without a digit (docx-mailmerge: "$15")
        ("x##", 222492, "492"),
        ("0.00x", 0.125, "0.125"),
        (".x", 0.75, ".8"),
        ("$###.00", 495.47, "$495.47"),
        ("$#,###,###", 2456800, "$2,456,800"),
        ("-##", -80, "-80"),
        ("+##", 10, "+10"),
        ("+##", -10, "-10"),
        ("##%", 33, "33%"),  # Word prints % as it is (docx-mailmerge multiplies by 100)
        ("0%", 56, "56%"),
        ("#,##0", 1204, "1,204"),
        ("#,##0", "1,204", "1,204"),  # a number stored as text is read as a number
        ("#,##0", 5, "    5"),  # the unused places stay, as spaces
        ("#,##0.00", 1234.5, "1,234.50"),
        ("0.0", 56, "56.0"),
        ("0.0", 2.25, "2.3"),  # half up, as Word rounds
        ("0", 2.5, "3"),
        ("$#,##0.00;-$#,##0.00", -1245.65, "-$1,245.65"),
        ("$#,##0.00;($#,##0.00);'nil'", 0, "nil"),
        ("$##0.00 'is sales tax'", 347.44, "$347.44 is sales tax"),
    ],
)
def test_numeric_pictures(picture: str, value: object, printed: str) -> None:
    assert numeric_picture(value, picture) == printed


def test_a_numeric_picture_leaves_text_alone() -> None:
    assert numeric_picture("not applicable", "0.0") is None
    assert numeric_picture(None, "0") is None


@pytest.mark.parametrize(
    ("picture", "printed"),
    [
        ("d MMMM yyyy", "22 July 2020"),
        ("dd/MM/yyyy", "22/07/2020"),
        ("dddd", "Wednesday"),
        ("ddd d MMM yy", "Wed 22 Jul 20"),
        ("d 'of' MMMM", "22 of July"),
        ("MMMM", "July"),
    ],
)
def test_date_pictures(picture: str, printed: str) -> None:
    assert date_picture(dt.date(2020, 7, 22), picture) == printed
    # a date written as text, as the letter_date field is, reads as a date
    assert date_picture("22 July 2020", picture) == printed


def test_time_pictures() -> None:
    moment = dt.datetime(2020, 7, 22, 17, 7, 8)
    assert date_picture(moment, "H:mm") == "17:07"
    assert date_picture(moment, "h:mm am/pm") == "5:07 pm"
    assert date_picture(moment, "hh:mm:ss AM/PM") == "05:07:08 PM"


@pytest.mark.parametrize(
    ("switch", "value", "printed"),
    [
        ("Upper", "Derby City Council", "DERBY CITY COUNCIL"),
        ("Lower", "Derby City Council", "derby city council"),
        ("Caps", "LEICESTERSHIRE county council", "Leicestershire County Council"),
        ("FirstCap", "the rain in Spain", "The rain in Spain"),
        ("MERGEFORMAT", "as it is", "as it is"),
        ("Ordinal", "21", "21st"),
        ("Ordinal", "12", "12th"),
        ("roman", "16", "xvi"),
        ("ROMAN", "16", "XVI"),
        ("CardText", "342", "three hundred forty-two"),
        ("OrdText", "21", "twenty-first"),
        ("Arabic", "7", "7"),
        ("alphabetic", "28", "bb"),
    ],
)
def test_general_formats(switch: str, value: str, printed: str) -> None:
    assert general_format(value, switch) == printed


def test_values_print_as_words_merge_prints_them() -> None:
    assert plain(None) == ""
    assert plain(56) == "56"
    assert plain(3.0) == "3"
    assert plain(2.5) == "2.5"
    assert plain(dt.date(2020, 7, 22)) == "22 July 2020"
