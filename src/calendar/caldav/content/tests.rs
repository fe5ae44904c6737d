use proptest::prelude::{any, proptest};

use super::{
    Content, ContentError, MAX_LINES, content_line, escape_text, quote_param, unfold, value_of,
};

/// An event as another client writes it: a folded line, an `RRULE` whose
/// parts are not in the order a writer would put them, `X-` properties, an
/// alarm, a time zone.
const WRITTEN_ELSEWHERE: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Other client//EN\r\n\
BEGIN:VTIMEZONE\r\n\
TZID:Europe/Berlin\r\n\
BEGIN:STANDARD\r\n\
DTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
TZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\n\
END:STANDARD\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\n\
UID:abc-123@example.com\r\n\
DTSTAMP:20261201T100000Z\r\n\
DTSTART;TZID=Europe/Berlin:20261202T090000\r\n\
DTEND;TZID=Europe/Berlin:20261202T100000\r\n\
SUMMARY:Weekly sync\r\n\
DESCRIPTION:A description long enough that the client that wrote it folded\r\n  it over two lines\r\n\
RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=10\r\n\
ATTENDEE;CN=\"Bob: B.\";PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n\
X-CUSTOM;X-PARAM=foo:kept as is\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
TRIGGER:-PT15M\r\n\
DESCRIPTION:Reminder\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

fn event(content: &Content) -> super::Component {
    content
        .components()
        .unwrap()
        .into_iter()
        .find(|c| c.kind == "VEVENT")
        .unwrap()
}

#[test]
fn an_object_read_and_written_unchanged_is_the_same_bytes() {
    let content = Content::parse(WRITTEN_ELSEWHERE).unwrap();
    assert_eq!(content.render(), WRITTEN_ELSEWHERE);
}

#[test]
fn components_are_found_with_their_nesting() {
    let content = Content::parse(WRITTEN_ELSEWHERE).unwrap();
    let kinds: Vec<(String, usize)> = content
        .components()
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.depth))
        .collect();
    assert_eq!(
        kinds,
        [
            ("VCALENDAR".to_owned(), 0),
            ("VTIMEZONE".to_owned(), 1),
            ("STANDARD".to_owned(), 2),
            ("VEVENT".to_owned(), 1),
            ("VALARM".to_owned(), 2),
        ]
    );
    // The event's own DESCRIPTION, not its alarm's.
    let vevent = event(&content);
    let descriptions = content.properties(&vevent, "description");
    assert_eq!(descriptions.len(), 1);
    assert_eq!(
        value_of(descriptions[0]),
        "A description long enough that the client that wrote it folded it over two lines"
    );
}

#[test]
fn changing_one_property_leaves_every_other_line_as_it_was() {
    let mut content = Content::parse(WRITTEN_ELSEWHERE).unwrap();
    let vevent = event(&content);
    content.set_property(
        &vevent,
        "SUMMARY",
        vec![content_line("SUMMARY", &[], &escape_text("Moved, again"))],
    );
    let expected = WRITTEN_ELSEWHERE.replace("SUMMARY:Weekly sync", "SUMMARY:Moved\\, again");
    assert_eq!(content.render(), expected);
}

#[test]
fn a_new_property_goes_before_the_subcomponents_and_an_emptied_one_goes() {
    let mut content = Content::parse(WRITTEN_ELSEWHERE).unwrap();
    let vevent = event(&content);
    content.set_property(
        &vevent,
        "LOCATION",
        vec![content_line("LOCATION", &[], "Room 1")],
    );
    let vevent = event(&content);
    content.set_property(&vevent, "X-CUSTOM", vec![]);
    let expected =
        WRITTEN_ELSEWHERE.replace("X-CUSTOM;X-PARAM=foo:kept as is\r\n", "LOCATION:Room 1\r\n");
    assert_eq!(content.render(), expected);
}

#[test]
fn components_can_be_removed_and_added() {
    let mut content = Content::parse(WRITTEN_ELSEWHERE).unwrap();
    let alarm = content
        .components()
        .unwrap()
        .into_iter()
        .find(|c| c.kind == "VALARM")
        .unwrap();
    content.remove_component(&alarm);
    content.append_component(vec![
        "BEGIN:VEVENT".to_owned(),
        "UID:abc-123@example.com".to_owned(),
        "RECURRENCE-ID;TZID=Europe/Berlin:20261209T090000".to_owned(),
        "END:VEVENT".to_owned(),
    ]);
    let rendered = content.render();
    assert!(!rendered.contains("VALARM"));
    assert!(rendered.ends_with(
        "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:abc-123@example.com\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261209T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ));
    assert_eq!(
        Content::parse(&rendered)
            .unwrap()
            .components()
            .unwrap()
            .len(),
        5
    );
}

#[test]
fn malformed_objects_are_refused_with_the_line() {
    let cases = [
        (" folded first\r\n", "a continuation before any line"),
        ("BEGIN:VCALENDAR\r\nEND:VEVENT\r\n", "END without its BEGIN"),
        (
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n",
            "BEGIN without its END",
        ),
        ("SUMMARY:outside\r\n", "a property outside any component"),
        (
            "BEGIN:VCALENDAR\r\n:no name\r\nEND:VCALENDAR\r\n",
            "no property name",
        ),
    ];
    for (text, problem) in cases {
        match Content::parse(text) {
            Err(ContentError::Malformed { problem: found, .. }) => assert_eq!(found, problem),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    let huge = format!(
        "BEGIN:VCALENDAR\r\n{}END:VCALENDAR\r\n",
        "X-A:b\r\n".repeat(MAX_LINES)
    );
    assert_eq!(Content::parse(&huge), Err(ContentError::TooLong));
}

#[test]
fn values_and_parameters_are_written_so_they_read_back() {
    assert_eq!(escape_text("a,b;c\\d\r\ne"), "a\\,b\\;c\\\\d\\ne");
    assert_eq!(quote_param("Bob: B."), "\"Bob: B.\"");
    assert_eq!(quote_param("Plain"), "Plain");
    assert_eq!(quote_param("say \"hi\""), "say hi");
    let line = content_line(
        "ATTENDEE",
        &[("CN", quote_param("Bob: B."))],
        "mailto:bob@x",
    );
    assert_eq!(value_of(&line), "mailto:bob@x");
}

proptest! {
    /// Folded lines are at most 75 octets, never split a character, and
    /// unfold to the line as written.
    #[test]
    fn folding_is_undone_by_unfolding(value in any::<String>()) {
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        let line = content_line("DESCRIPTION", &[], &value);
        for physical in line.split("\r\n") {
            assert!(physical.len() <= 75, "{physical:?}");
        }
        assert_eq!(unfold(&line), format!("DESCRIPTION:{value}"));
    }
}
