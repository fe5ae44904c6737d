use super::{APPLE_ICAL, CALDAV, DAV, MAX_RESPONSES, MultistatusError, parse};

/// Radicale writes `DAV:` as the default namespace.
const RADICALE: &str = r#"<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:"><response><href>/</href><propstat><prop><current-user-principal><href>/alice/</href></current-user-principal></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"#;

/// Xandikos writes prefixes, CalDAV's among them, and a 404 propstat for a
/// property it lacks.
const XANDIKOS: &str = r#"<ns0:multistatus xmlns:ns0="DAV:" xmlns:ns1="urn:ietf:params:xml:ns:caldav" xmlns:ns2="http://apple.com/ns/ical/"><ns0:response><ns0:href>/user/calendars/</ns0:href><ns0:propstat><ns0:status>HTTP/1.1 200 OK</ns0:status><ns0:prop><ns0:displayname>calendars</ns0:displayname><ns0:resourcetype><ns0:collection /></ns0:resourcetype></ns0:prop></ns0:propstat></ns0:response><ns0:response><ns0:href>/user/calendars/calendar/</ns0:href><ns0:propstat><ns0:status>HTTP/1.1 200 OK</ns0:status><ns0:prop><ns0:displayname>calendar</ns0:displayname><ns0:resourcetype><ns0:collection /><ns1:calendar /></ns0:resourcetype><ns1:supported-calendar-component-set><ns1:comp name="VEVENT"/><ns1:comp name="VTODO"/></ns1:supported-calendar-component-set></ns0:prop></ns0:propstat><ns0:propstat><ns0:status>HTTP/1.1 404 Not Found</ns0:status><ns0:prop><ns2:calendar-color/></ns0:prop></ns0:propstat></ns0:response></ns0:multistatus>"#;

#[test]
fn namespaces_are_matched_by_uri_whatever_the_prefix() {
    let radicale = parse(RADICALE).unwrap();
    assert_eq!(radicale.len(), 1);
    let principal = radicale[0].prop(DAV, "current-user-principal").unwrap();
    assert_eq!(principal.hrefs, ["/alice/"]);

    let xandikos = parse(XANDIKOS).unwrap();
    let hrefs: Vec<&str> = xandikos.iter().map(|r| r.href.as_str()).collect();
    assert_eq!(hrefs, ["/user/calendars/", "/user/calendars/calendar/"]);
    let calendar = &xandikos[1];
    assert_eq!(calendar.prop(DAV, "displayname").unwrap().text, "calendar");
    assert_eq!(
        calendar.prop(DAV, "resourcetype").unwrap().children,
        ["collection", "calendar"]
    );
    assert_eq!(
        calendar
            .prop(CALDAV, "supported-calendar-component-set")
            .unwrap()
            .children,
        ["VEVENT", "VTODO"]
    );
    // Returned with 404: not a property the resource has.
    assert!(calendar.prop(APPLE_ICAL, "calendar-color").is_none());
}

#[test]
fn what_is_not_a_multistatus_is_refused() {
    assert!(matches!(
        parse("Internal Server Error"),
        Err(MultistatusError::NotXml(_))
    ));
    assert_eq!(
        parse(r#"<html xmlns="DAV:"><body/></html>"#),
        Err(MultistatusError::NotMultistatus)
    );
    // A document type could declare entities that expand without bound.
    let dtd =
        r#"<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa">]><multistatus xmlns="DAV:"/>"#;
    assert!(matches!(parse(dtd), Err(MultistatusError::NotXml(_))));
    let many = format!(
        r#"<multistatus xmlns="DAV:">{}</multistatus>"#,
        "<response><href>/x</href></response>".repeat(MAX_RESPONSES + 1)
    );
    assert_eq!(parse(&many), Err(MultistatusError::TooMany));
}
