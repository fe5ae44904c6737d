"""Reads the events of one CalDAV calendar with the independent Python
`caldav` client, for the interop tests: prints one JSON object per event
(summary, start, end, zone, recurrence, attendees, alarms, X- properties).

Usage: read_events.py URL CALENDAR_URL USER PASSWORD (USER - for none)
"""

import json
import sys

import caldav


def main():
    url, calendar_url, user, password = sys.argv[1:5]
    auth = {} if user == "-" else {"username": user, "password": password}
    with caldav.DAVClient(url=url, **auth) as client:
        calendar = client.calendar(url=calendar_url)
        out = []
        for resource in calendar.events():
            for component in resource.icalendar_instance.walk("VEVENT"):
                start = component.get("dtstart")
                end = component.get("dtend")
                attendees = component.get("attendee") or []
                if not isinstance(attendees, list):
                    attendees = [attendees]
                out.append({
                    "uid": str(component.get("uid")),
                    "summary": str(component.get("summary")),
                    "start": start.dt.isoformat(),
                    "end": end.dt.isoformat() if end else None,
                    "zone": str(start.params.get("TZID", "")),
                    "rrule": component.get("rrule").to_ical().decode() if component.get("rrule") else None,
                    "attendees": sorted(str(a) for a in attendees),
                    "alarms": [str(a.get("trigger").to_ical().decode()) for a in component.walk("VALARM")],
                    "x_props": sorted(k for k in component.keys() if k.startswith("X-")),
                })
        print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
