"""Writes one iCalendar object (read from stdin) into a CalDAV calendar with
the independent Python `caldav` client, as another calendar app would, for
the interop tests; prints the URL the object got.

Usage: write_event.py URL CALENDAR_URL USER PASSWORD (USER - for none)
"""

import sys

import caldav


def main():
    url, calendar_url, user, password = sys.argv[1:5]
    auth = {} if user == "-" else {"username": user, "password": password}
    with caldav.DAVClient(url=url, **auth) as client:
        calendar = client.calendar(url=calendar_url)
        event = calendar.add_event(sys.stdin.read())
        print(event.url)


if __name__ == "__main__":
    main()
