//! The events of a window, from the calendar object resources a time-range
//! query found: one-off events as they are, series expanded by the
//! gateway's own engine ([`crate::calendar::series`], so every server gives
//! the same answer whatever its `expand` support), each occurrence replaced
//! by its override where one exists and left out where it was cancelled.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::calendar::CalendarError;
use crate::calendar::caldav::vevent::ObjectEvents;
use crate::calendar::edits::{Stored, materialise};

/// Every event overlapping `[from, to)` in `objects`, in start order (ties
/// by id), as stored events (times understood).
pub fn in_window(
    objects: Vec<ObjectEvents>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    calendar_zone: Tz,
) -> Result<Vec<Stored>, CalendarError> {
    let overlaps = |stored: &Stored| {
        stored.end.instant(stored.zone) > from && stored.start.instant(stored.zone) < to
    };
    let mut out = Vec::new();
    for object in objects {
        let master = Stored::analyse(object.master, calendar_zone)?;
        let Some(series) = &master.series else {
            if !master.event.is_cancelled() && overlaps(&master) {
                out.push(master);
            }
            continue;
        };
        if master.event.is_cancelled() {
            continue;
        }
        let mut overrides = Vec::with_capacity(object.overrides.len());
        for (original, event) in object.overrides {
            overrides.push((
                original.instant(master.zone),
                Stored::analyse(event, calendar_zone)?,
            ));
        }
        for occurrence in series.occurrences(from, to)? {
            let at = occurrence.start.instant(master.zone);
            match overrides.iter().position(|(original, _)| *original == at) {
                Some(i) => {
                    let (_, edited) = overrides.swap_remove(i);
                    if !edited.event.is_cancelled() && overlaps(&edited) {
                        out.push(edited);
                    }
                }
                None => out.push(materialise(&master, occurrence.start)),
            }
        }
        // An override moved into the window from an occurrence outside it.
        out.extend(
            overrides
                .into_iter()
                .map(|(_, edited)| edited)
                .filter(|edited| !edited.event.is_cancelled() && overlaps(edited)),
        );
    }
    out.sort_by(|a, b| {
        (a.start.instant(a.zone), &a.event.id).cmp(&(b.start.instant(b.zone), &b.event.id))
    });
    Ok(out)
}

#[cfg(test)]
mod tests;
