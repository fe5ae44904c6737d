//! Properties of the parsers behind tool arguments and config values, over
//! generated input. Each asserts what a client or an operator is owed, not
//! only "no panic": an instant written at any offset is the same instant; a
//! zone is accepted exactly when it is an IANA name; a recurrence rule is
//! refused naming its line (or the list), or expands in order inside the window and within
//! the cap; an instance id names its series and start and reads back to
//! itself; a config value is taken exactly when it is valid, and a refusal
//! names its key.

use std::str::FromStr;

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use chrono_tz::Tz;
use mcp_gateway::calendar::series::{
    MAX_INSTANCES_PER_WINDOW, Series, instance_id, parse_instance_id,
};
use mcp_gateway::calendar::time::{When, parse_instant, parse_zone};
use mcp_gateway::config::Config;
use proptest::prelude::{
    Just, ProptestConfig, Strategy, any, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use proptest::sample::select;
use proptest::string::string_regex;

use crate::common::{Setup, render, write_pki};

/// Instants from year 1900 to 2200, to the second.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (-2_208_988_800i64..7_258_118_400).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

/// A recurrence line: mostly RRULE parts a client might send, some garbage.
fn rule_line() -> impl Strategy<Value = String> {
    let freq = select(vec![
        "DAILY",
        "WEEKLY",
        "MONTHLY",
        "YEARLY",
        "HOURLY",
        "MINUTELY",
        "SECONDLY",
        "FORTNIGHTLY",
        "",
    ]);
    let part = prop_oneof![
        (0u32..2000).prop_map(|n| format!("INTERVAL={n}")),
        (0u32..200_000).prop_map(|n| format!("COUNT={n}")),
        select(vec![
            "BYDAY=MO,WE,FR",
            "BYDAY=-1SU",
            "BYDAY=XX",
            "BYMONTHDAY=31",
            "BYMONTHDAY=0",
            "BYHOUR=25",
            "BYSETPOS=1",
            "WKST=SU"
        ])
        .prop_map(str::to_owned),
        instant().prop_map(|t| format!("UNTIL={}", t.format("%Y%m%dT%H%M%SZ"))),
        string_regex("[A-Z=;,0-9-]{0,12}").unwrap(),
    ];
    prop_oneof![
        (freq, proptest::collection::vec(part, 0..4)).prop_map(|(f, parts)| {
            let mut line = format!("RRULE:FREQ={f}");
            for p in parts {
                line.push(';');
                line.push_str(&p);
            }
            line
        }),
        any::<String>(),
        Just("EXDATE:20300101T090000Z".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn an_instant_at_any_offset_is_the_same_instant(at in instant(), minutes in -1439i32..1440) {
        let offset = FixedOffset::east_opt(minutes * 60).unwrap();
        let written = at.with_timezone(&offset).to_rfc3339();
        prop_assert_eq!(parse_instant("timeMin", &written).unwrap(), at);
    }

    #[test]
    fn instant_text_is_read_or_refused_naming_the_field(text in any::<String>()) {
        match parse_instant("timeMin", &text) {
            Ok(at) => prop_assert_eq!(Some(at), DateTime::parse_from_rfc3339(&text).ok().map(|t| t.to_utc())),
            Err(e) => prop_assert!(e.to_string().starts_with("timeMin: "), "{}", e),
        }
    }

    #[test]
    fn a_zone_is_taken_exactly_when_it_is_an_iana_name(
        text in prop_oneof![select(chrono_tz::TZ_VARIANTS.iter().map(|z| z.name().to_owned()).collect::<Vec<_>>()), any::<String>()]
    ) {
        match parse_zone("timeZone", &text) {
            Ok(zone) => prop_assert_eq!(Some(zone), Tz::from_str(&text).ok()),
            Err(e) => {
                prop_assert!(Tz::from_str(&text).is_err());
                prop_assert!(e.to_string().starts_with("timeZone: unknown time zone"), "{}", e);
            }
        }
    }

    #[test]
    fn a_rule_is_refused_naming_its_line_or_expands_in_order_within_the_cap(
        line in rule_line(),
        start in instant(),
    ) {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        let begin = When::Timed { at: start, zone: Some(zone) };
        let end = When::Timed { at: start + Duration::minutes(30), zone: Some(zone) };
        match Series::new(begin, end, zone, std::slice::from_ref(&line)) {
            // `recurrence[0]` for the line itself, `recurrence` for the list
            // (an EXDATE with no RRULE).
            Err(e) => prop_assert!(e.to_string().starts_with("recurrence"), "{line}: {e}"),
            Ok(series) => {
                let (from, to) = (start - Duration::days(1), start + Duration::days(366));
                if let Ok(occurrences) = series.occurrences(from, to) {
                    prop_assert!(occurrences.len() <= usize::from(MAX_INSTANCES_PER_WINDOW));
                    let starts: Vec<_> = occurrences.iter().map(|o| o.start.instant(zone)).collect();
                    // In start order, each start once (an instance's id is its start).
                    prop_assert!(starts.windows(2).all(|w| w[0] < w[1]), "{line}");
                    for o in &occurrences {
                        prop_assert!(o.end.instant(zone) > from && o.start.instant(zone) < to, "{line}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_instance_id_names_its_series_and_start(
        series in string_regex("[a-z0-9]{1,40}").unwrap(),
        at in instant(),
        all_day in any::<bool>(),
    ) {
        let start = if all_day {
            When::AllDay(at.date_naive())
        } else {
            When::Timed { at, zone: None }
        };
        let id = instance_id(&series, &start);
        prop_assert_eq!(parse_instance_id(&id), Some((series, start)));
    }

    #[test]
    fn any_text_read_as_an_instance_id_reads_back_to_itself(text in any::<String>()) {
        if let Some((series, start)) = parse_instance_id(&text) {
            prop_assert_eq!(instance_id(&series, &start), text);
        }
    }
}

/// The config of a test gateway with `handshake_timeout` and one allowed
/// network as given, parsed in a fresh folder.
fn config_with(timeout: &str, network: &str) -> Result<Config, String> {
    let dir = tempfile::TempDir::new().unwrap();
    write_pki(dir.path());
    let quoted = |text: &str| serde_json::to_string(text).unwrap();
    let text = render(&Setup {
        listen: format!("handshake_timeout = {}", quoted(timeout)),
        network: format!("allow = [{}]", quoted(network)),
        ..Setup::default()
    });
    Config::parse(&text, dir.path()).map_err(|p| p.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_config_value_is_taken_exactly_when_valid_and_a_refusal_names_its_key(
        timeout in prop_oneof![
            (1u64..100_000).prop_map(|s| format!("{s}s")),
            select(vec!["0s", "10", "-5s", "1 fortnight", "", "5m 30s", "9999999999999999999h"]).prop_map(str::to_owned),
            any::<String>(),
        ],
        network in prop_oneof![
            select(vec!["127.0.0.0/8", "10.8.0.7/8", "::1", "2001:db8::/32", "0.0.0.0/0", "300.1.1.1", "fe80::1%eth0", "10.0.0.0/33"]).prop_map(str::to_owned),
            any::<String>(),
        ],
    ) {
        let timeout_ok = mcp_gateway::config::parse_duration(&timeout).is_ok();
        let network_ok = network.parse::<ipnet::IpNet>().is_ok_and(|n| n.trunc() == n)
            || network.parse::<std::net::IpAddr>().is_ok();
        match config_with(&timeout, &network) {
            Ok(config) => {
                prop_assert!(timeout_ok && network_ok, "took {timeout:?} and {network:?}");
                prop_assert_eq!(config.listen.handshake_timeout, mcp_gateway::config::parse_duration(&timeout).unwrap());
            }
            Err(problems) => {
                prop_assert!(!timeout_ok || !network_ok, "refused valid values: {problems}");
                if !timeout_ok {
                    prop_assert!(problems.contains("listen.handshake_timeout"), "{problems}");
                }
                if !network_ok {
                    prop_assert!(problems.contains("network.allow"), "{problems}");
                }
            }
        }
    }
}
