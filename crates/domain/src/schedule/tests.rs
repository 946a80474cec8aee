//! The scheduler with an injected clock: recipients in New York, London,
//! Tokyo and Sydney, both DST changes of 2026, holidays, weekends, caps,
//! spacing with jitter, warm-up, the frequency cap.

use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn weekdays() -> Vec<Weekday> {
    vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ]
}

fn mailbox() -> MailboxRules {
    MailboxRules {
        address: "dana@northwind.example".into(),
        owner: "dana".into(),
        daily_cap: 40,
        min_spacing_secs: 600,
        window: Window {
            days: weekdays(),
            from_minute: 8 * 60 + 30,
            to_minute: 17 * 60 + 30,
        },
        warmup: false,
    }
}

fn policy() -> SendPolicy {
    SendPolicy {
        time_zone: "America/New_York".into(),
        mailboxes: vec![mailbox()],
        contact_gap_business_days: 2,
        holidays: true,
        extra_holidays: vec![],
        breaker: BreakerRules::default(),
    }
}

fn in_country(code: &str) -> Location {
    let country = Country::from_code(code).unwrap();
    Location {
        zone: country.default_zone().unwrap(),
        country: Some(country),
        source: ZoneSource::ContactCountry,
    }
}

fn at(zone: &str) -> Location {
    let zone: Tz = zone.parse().unwrap();
    Location {
        zone,
        country: zones::country_of_zone(zone),
        source: ZoneSource::ContactCity,
    }
}

fn ask(policy: &SendPolicy, facts: &MailboxFacts, to: Location, now: &str) -> Decision {
    decide(&Request {
        policy,
        mailbox: &policy.mailboxes[0],
        facts,
        recipient: to,
        last_to_contact: None,
        seed: b"message-1",
        now: utc(now),
    })
}

fn not_before(decision: &Decision) -> (DateTime<Utc>, Vec<&'static str>) {
    match decision {
        Decision::NotBefore { at, why } => (*at, why.iter().map(Wait::kind).collect()),
        Decision::SendNow => panic!("expected a hold, got send now"),
    }
}

#[test]
fn new_york_before_during_and_after_the_window() {
    let p = policy();
    let quiet = MailboxFacts::default();
    // Monday 08:00 EST: opens at 08:30 EST.
    let d = ask(&p, &quiet, in_country("US"), "2026-03-02T13:00:00Z");
    assert_eq!(
        not_before(&d),
        (utc("2026-03-02T13:30:00Z"), vec!["window"])
    );
    assert_eq!(
        ask(&p, &quiet, in_country("US"), "2026-03-02T14:00:00Z"),
        Decision::SendNow
    );
    // Monday 17:30 EST is closed: Tuesday 08:30.
    let d = ask(&p, &quiet, in_country("US"), "2026-03-02T22:30:00Z");
    assert_eq!(not_before(&d).0, utc("2026-03-03T13:30:00Z"));
}

#[test]
fn the_us_spring_forward_moves_the_opening_an_hour_earlier_in_utc() {
    // Friday 6 March 17:31 EST; clocks go forward on Sunday 8 March.
    let d = ask(
        &policy(),
        &MailboxFacts::default(),
        in_country("US"),
        "2026-03-06T22:31:00Z",
    );
    let (when, why) = not_before(&d);
    assert_eq!(when, utc("2026-03-09T12:30:00Z"), "Monday 08:30 EDT");
    assert!(why.contains(&"window"));
    // The weekend is named in the reason.
    let Decision::NotBefore { why, .. } = d else {
        unreachable!()
    };
    let text = describe_hold(&why, when, &in_country("US"));
    assert!(text.contains("Sat 2026-03-07 is not a send day"), "{text}");
    assert!(text.contains("2026-03-09 08:30 EDT"), "{text}");
}

#[test]
fn london_across_the_eu_change_and_its_holidays() {
    let p = policy();
    // Friday 27 March 18:00 GMT; Europe goes to summer time on the 29th.
    let d = ask(
        &p,
        &MailboxFacts::default(),
        in_country("GB"),
        "2026-03-27T18:00:00Z",
    );
    assert_eq!(
        not_before(&d).0,
        utc("2026-03-30T07:30:00Z"),
        "Monday 08:30 BST"
    );
    // Thursday 2 April after hours: Good Friday is a bank holiday in all of
    // the UK (Easter Monday is not in Scotland, so not a national one):
    // Monday 6 April.
    let d = ask(
        &p,
        &MailboxFacts::default(),
        in_country("GB"),
        "2026-04-02T17:00:00Z",
    );
    let (when, _) = not_before(&d);
    assert_eq!(when, utc("2026-04-06T07:30:00Z"));
    let Decision::NotBefore { why, .. } = d else {
        unreachable!()
    };
    let text = describe_hold(&why, when, &in_country("GB"));
    assert!(text.contains("Good Friday"), "{text}");
}

#[test]
fn sydney_as_summer_time_ends_over_easter() {
    // Thursday 2 April 18:00 AEDT. Good Friday, the weekend (clocks go back
    // on Sunday 5 April) and Easter Monday: Tuesday 7 April 08:30 AEST.
    let d = ask(
        &policy(),
        &MailboxFacts::default(),
        at("Australia/Sydney"),
        "2026-04-02T07:00:00Z",
    );
    assert_eq!(not_before(&d).0, utc("2026-04-06T22:30:00Z"));
    // The same Thursday at 10:00 AEDT is inside the window.
    assert_eq!(
        ask(
            &policy(),
            &MailboxFacts::default(),
            at("Australia/Sydney"),
            "2026-04-01T23:00:00Z"
        ),
        Decision::SendNow
    );
}

#[test]
fn tokyo_has_no_dst_and_its_own_holidays() {
    let p = policy();
    // Monday 2 March 09:00 JST.
    assert_eq!(
        ask(
            &p,
            &MailboxFacts::default(),
            at("Asia/Tokyo"),
            "2026-03-02T00:00:00Z"
        ),
        Decision::SendNow
    );
    // Friday 20 March 2026 is the Vernal Equinox Day: Monday 23rd 08:30 JST.
    let d = ask(
        &p,
        &MailboxFacts::default(),
        at("Asia/Tokyo"),
        "2026-03-19T09:00:00Z",
    );
    assert_eq!(not_before(&d).0, utc("2026-03-22T23:30:00Z"));
}

#[test]
fn thanksgiving_and_extra_days_off_are_skipped() {
    let mut p = policy();
    let d = ask(
        &p,
        &MailboxFacts::default(),
        in_country("US"),
        "2026-11-25T23:00:00Z",
    );
    assert_eq!(
        not_before(&d).0,
        utc("2026-11-27T13:30:00Z"),
        "Friday after"
    );
    p.extra_holidays = vec![NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()];
    let d = ask(
        &p,
        &MailboxFacts::default(),
        in_country("US"),
        "2026-11-25T23:00:00Z",
    );
    assert_eq!(
        not_before(&d).0,
        utc("2026-11-30T13:30:00Z"),
        "Monday after"
    );
    // Holidays off: the Friday after the turkey.
    p.holidays = false;
    p.extra_holidays.clear();
    let d = ask(
        &p,
        &MailboxFacts::default(),
        in_country("US"),
        "2026-11-25T23:00:00Z",
    );
    assert_eq!(not_before(&d).0, utc("2026-11-26T13:30:00Z"));
}

#[test]
fn a_full_cap_waits_for_the_next_day_in_the_workspace_zone() {
    let p = policy();
    let full = MailboxFacts {
        sent_today: 40,
        ..MailboxFacts::default()
    };
    // Tuesday 15:00 EST.
    let d = ask(&p, &full, in_country("US"), "2026-03-03T20:00:00Z");
    let (when, why) = not_before(&d);
    assert_eq!(when, utc("2026-03-04T13:30:00Z"));
    assert_eq!(why, vec!["cap", "window"]);
    // A Tokyo recipient: the mailbox's day still ends at midnight in New
    // York (14:00 JST), then Tokyo's window is open.
    let d = ask(&p, &full, at("Asia/Tokyo"), "2026-03-04T01:00:00Z");
    assert_eq!(not_before(&d).0, utc("2026-03-04T05:00:00Z"));
    let one_left = MailboxFacts {
        sent_today: 39,
        ..MailboxFacts::default()
    };
    assert_eq!(
        ask(&p, &one_left, in_country("US"), "2026-03-03T20:00:00Z"),
        Decision::SendNow
    );
}

#[test]
fn spacing_has_a_repeatable_jitter_of_up_to_half_the_spacing() {
    let m = mailbox();
    let mut gaps = std::collections::BTreeSet::new();
    for i in 0..500u32 {
        let seed = format!("message-{i}");
        let gap = m.spacing_for(seed.as_bytes());
        assert!(gap >= Duration::minutes(10), "{gap}");
        assert!(gap < Duration::minutes(15), "{gap}");
        assert_eq!(gap, m.spacing_for(seed.as_bytes()), "repeatable");
        gaps.insert(gap.num_seconds());
    }
    assert!(
        gaps.len() > 100,
        "jitter varies: {} distinct gaps",
        gaps.len()
    );
    let p = policy();
    let last = utc("2026-03-03T15:00:00Z");
    let facts = MailboxFacts {
        sent_today: 3,
        last_send: Some(last),
        ..MailboxFacts::default()
    };
    let d = ask(&p, &facts, in_country("US"), "2026-03-03T15:05:00Z");
    let (when, why) = not_before(&d);
    assert_eq!(when, last + m.spacing_for(b"message-1"));
    assert_eq!(why, vec!["spacing"]);
    assert_eq!(
        ask(&p, &facts, in_country("US"), "2026-03-03T15:15:00Z"),
        Decision::SendNow
    );
}

#[test]
fn warm_up_ramps_from_five_by_two_a_day_to_the_cap() {
    let mut m = mailbox();
    m.warmup = true;
    let first = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let day = |n: i64| first + Duration::days(n - 1);
    assert_eq!(m.cap_on(None, first), 5, "before the first send");
    assert_eq!(m.cap_on(Some(first), day(1)), 5);
    assert_eq!(m.cap_on(Some(first), day(2)), 7);
    assert_eq!(m.cap_on(Some(first), day(10)), 23);
    assert_eq!(m.cap_on(Some(first), day(18)), 39);
    assert_eq!(m.cap_on(Some(first), day(19)), 40);
    assert_eq!(m.cap_on(Some(first), day(60)), 40);
    assert_eq!(m.warmup_day(Some(first), day(10)), Some(10));
    assert_eq!(m.warmup_day(Some(first), day(19)), None, "warm-up done");
    let mut p = policy();
    p.mailboxes = vec![m];
    let facts = MailboxFacts {
        sent_today: 7,
        first_send: Some(utc("2026-03-02T14:00:00Z")),
        ..MailboxFacts::default()
    };
    // Day 2 (Tuesday): 7 of 7.
    let d = ask(&p, &facts, in_country("US"), "2026-03-03T19:00:00Z");
    let Decision::NotBefore { why, at } = d else {
        panic!()
    };
    assert_eq!(at, utc("2026-03-04T13:30:00Z"));
    assert_eq!(
        why[0],
        Wait::CapReached {
            cap: 7,
            sent: 7,
            warmup_day: Some(2)
        }
    );
}

#[test]
fn one_automated_email_per_contact_every_two_business_days() {
    let p = policy();
    let ask_after = |last: &str, now: &str| {
        decide(&Request {
            policy: &p,
            mailbox: &p.mailboxes[0],
            facts: &MailboxFacts::default(),
            recipient: in_country("US"),
            last_to_contact: Some(utc(last)),
            seed: b"m",
            now: utc(now),
        })
    };
    // Friday 10:00 EST → Tuesday 10:00 EST.
    let d = ask_after("2026-03-06T15:00:00Z", "2026-03-09T14:00:00Z");
    let (when, why) = not_before(&d);
    assert_eq!(when, utc("2026-03-10T14:00:00Z"));
    assert_eq!(why, vec!["frequency"]);
    assert_eq!(
        ask_after("2026-03-06T15:00:00Z", "2026-03-10T14:00:00Z"),
        Decision::SendNow
    );
}

#[test]
fn a_paused_mailbox_waits_for_a_person() {
    let facts = MailboxFacts {
        paused: Some("bounce rate 10% is above 3%".into()),
        ..MailboxFacts::default()
    };
    let d = ask(&policy(), &facts, in_country("US"), "2026-03-02T15:00:00Z");
    assert_eq!(
        not_before(&d),
        (utc("2026-03-03T15:00:00Z"), vec!["paused"])
    );
}

#[test]
fn window_times_that_do_not_exist_open_when_the_clocks_jump() {
    let mut p = policy();
    p.mailboxes[0].window = Window {
        days: Window::always().days,
        from_minute: 2 * 60 + 30,
        to_minute: 4 * 60,
    };
    p.holidays = false;
    // Sunday 8 March 2026, 01:00 EST: 02:30 does not exist; 03:00 EDT does.
    let d = ask(
        &p,
        &MailboxFacts::default(),
        in_country("US"),
        "2026-03-08T06:00:00Z",
    );
    assert_eq!(not_before(&d).0, utc("2026-03-08T07:00:00Z"));
    // Sunday 1 November 2026 (clocks go back at 02:00 EDT): 02:30 happens
    // once, after the change, in EST.
    let d = ask(
        &p,
        &MailboxFacts::default(),
        in_country("US"),
        "2026-11-01T04:00:00Z",
    );
    assert_eq!(not_before(&d).0, utc("2026-11-01T07:30:00Z"));
}

#[test]
fn breakers_trip_above_the_rate_from_the_minimum_sends() {
    let rules = BreakerRules::default();
    let h = |sends, bounces, complaints| Health {
        sends,
        bounces,
        complaints,
    };
    assert_eq!(rules.check(h(19, 5, 0)), None, "too few sends to judge");
    assert!(matches!(
        rules.check(h(20, 1, 0)),
        Some(Trip::BounceRate { .. })
    ));
    assert_eq!(
        rules.check(h(100, 3, 0)),
        None,
        "3% is the limit, not above it"
    );
    assert!(rules.check(h(100, 4, 0)).is_some());
    assert!(matches!(
        rules.check(h(5, 0, 1)),
        Some(Trip::Complaints { .. })
    ));
    assert_eq!(rules.check(h(1000, 0, 3)), None, "0.3%");
    assert!(rules.check(h(1000, 0, 4)).is_some());
    let text = rules.check(h(20, 2, 0)).unwrap().describe(7);
    assert_eq!(
        text,
        "bounce rate 10.0% (2 of 20 sends in the last 7 days) is above 3.0%"
    );
}

#[test]
fn rotation_lists_the_owners_mailboxes_own_first() {
    let mut p = policy();
    let mut second = mailbox();
    second.address = "dana.r@northwind.example".into();
    let mut other = mailbox();
    other.address = "sam@northwind.example".into();
    other.owner = "sam".into();
    p.mailboxes = vec![mailbox(), other, second];
    let names: Vec<&str> = p
        .rotation("dana.r@northwind.example")
        .iter()
        .map(|m| m.address.as_str())
        .collect();
    assert_eq!(
        names,
        ["dana.r@northwind.example", "dana@northwind.example"]
    );
    assert!(p.rotation("nobody@northwind.example").is_empty());
}

const ZONES: [&str; 6] = [
    "America/New_York",
    "Europe/London",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Los_Angeles",
    "Asia/Kolkata",
];

proptest! {
    #[test]
    fn the_scheduler_never_answers_outside_the_window(
        seconds in 1_767_225_600i64..1_861_920_000i64, // 2026-01-01 .. 2028-12-31
        zone in 0usize..ZONES.len(),
        day_mask in 1u8..128,
        from in 0u16..1380,
        length in 30u16..1440,
        sent_today in 0u32..60,
        last_ago in proptest::option::of(0i64..3_600),
        contact_ago in proptest::option::of(0i64..400_000),
        seed in any::<u64>(),
    ) {
        let now = DateTime::from_timestamp(seconds, 0).unwrap();
        let days: Vec<Weekday> = (0..7u8)
            .filter(|d| day_mask & (1 << d) != 0)
            .map(|d| Weekday::try_from(d).unwrap())
            .collect();
        let mut p = policy();
        p.mailboxes[0].window = Window { days, from_minute: from, to_minute: (from + length).min(1440) };
        let recipient = at(ZONES[zone]);
        let facts = MailboxFacts {
            sent_today,
            last_send: last_ago.map(|s| now - Duration::seconds(s)),
            ..MailboxFacts::default()
        };
        let seed = seed.to_be_bytes();
        let decision = decide(&Request {
            policy: &p,
            mailbox: &p.mailboxes[0],
            facts: &facts,
            recipient,
            last_to_contact: contact_ago.map(|s| now - Duration::seconds(s)),
            seed: &seed,
            now,
        });
        let when = decision.at(now);
        prop_assert!(when >= now);
        let local_day = when.with_timezone(&recipient.zone).date_naive();
        let calendar = p.calendar(recipient.country);
        prop_assert!(p.mailboxes[0].window.days.contains(&local_day.weekday()), "{when} is on a send day");
        prop_assert!(calendar.closed(local_day).is_none(), "{when} is not a holiday");
        let (open, close) = window_bounds(&p.mailboxes[0].window, local_day, recipient.zone);
        prop_assert!(open <= when && when < close, "{when} is inside {open}..{close}");
        if p.day_of(when) == p.day_of(now) {
            prop_assert!(sent_today < p.mailboxes[0].daily_cap, "the cap holds today");
        }
        if let Some(last) = facts.last_send {
            prop_assert!(when - last >= Duration::minutes(10), "spacing holds");
        }
    }
}
