"""The words for a person's fields, shared by the employee form, the console edit and the Excel import.

The checks themselves are the domain's (models/persons.py); they answer per field with a
FieldError worded by admin_views/labels.py, and these labels put the field's name in front
where a message stands alone.
"""

from admin_views import labels

FIELD_LABELS = {
    "name": "姓名",
    "gender": "性别",
    "id_number": "身份证号",
    "age": "年龄",
    "phone": "手机号",
    "category": "人员类别",
    "lives_in_binhai": "是否住在滨海新区",
    "community": "现居住小区",
    "remarks": "备注",
}


def error_text(errors):
    """'身份证号：…；手机号：…' for the FieldErrors (or messages) of one person's fields."""
    return "；".join(f"{FIELD_LABELS.get(key, key)}：{labels.error_text(problem)}" for key, problem in errors.items())
