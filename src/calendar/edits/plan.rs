//! What an update or a delete of "this / this and following / all"
//! occurrences does, decided once for every backend: each backend finds what
//! an id addresses, asks [`Addressed::plan`], and applies the plan its own way.

use crate::calendar::CalendarError;
use crate::calendar::model::SeriesScope;

/// What an event id addresses, as a backend finds it: `E` is the event as
/// the backend holds it, `I` what it knows of one occurrence.
pub enum Addressed<E, I> {
    /// A one-off event.
    Single(E),
    /// A recurring series, by its own id.
    Series(E),
    /// One occurrence of a series.
    Instance(I),
}

/// What an update or a delete does with its `scope`: decided once, by
/// [`Addressed::plan`], and applied by each backend in its own way.
pub enum SeriesPlan<E, I> {
    /// The one-off event itself (any scope: there is nothing else).
    Single(E),
    /// The whole series, by its own id: a patch applies as written.
    Series(E),
    /// That one occurrence only (`thisInstance`, the default for an
    /// occurrence).
    Instance(I),
    /// The whole series, through one occurrence (`all`): moving the
    /// occurrence moves every one by as much.
    SeriesOf(I),
    /// The occurrence and all after it (`thisAndFollowing`): the series ends
    /// before it and, for an update, a new series starts there with the
    /// patch applied. From the series' first occurrence on, that is the
    /// whole series ([`crate::calendar::edits::Stored::starts_at_or_after`]).
    Following(I),
}

impl<E, I> Addressed<E, I> {
    /// The plan for `scope`; a scope that needs an occurrence, used with a
    /// series id, is refused with a message saying which id to use.
    pub fn plan(self, scope: Option<SeriesScope>) -> Result<SeriesPlan<E, I>, CalendarError> {
        Ok(match (self, scope) {
            (Addressed::Single(event), _) => SeriesPlan::Single(event),
            (Addressed::Series(event), None | Some(SeriesScope::All)) => SeriesPlan::Series(event),
            (Addressed::Series(_), Some(other)) => return Err(scope_needs_instance(other)),
            (Addressed::Instance(occurrence), None | Some(SeriesScope::ThisInstance)) => {
                SeriesPlan::Instance(occurrence)
            }
            (Addressed::Instance(occurrence), Some(SeriesScope::All)) => {
                SeriesPlan::SeriesOf(occurrence)
            }
            (Addressed::Instance(occurrence), Some(SeriesScope::ThisAndFollowing)) => {
                SeriesPlan::Following(occurrence)
            }
        })
    }
}

/// The error for a scope that needs an occurrence, used with a series id.
fn scope_needs_instance(scope: SeriesScope) -> CalendarError {
    let name = match scope {
        SeriesScope::ThisInstance => "thisInstance",
        SeriesScope::ThisAndFollowing => "thisAndFollowing",
        SeriesScope::All => "all",
    };
    CalendarError::invalid(
        "scope",
        format!(
            "`{name}` needs an instance id (`<seriesId>_<start>`, as list_events returns); this id is the whole series"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::{Addressed, SeriesPlan};
    use crate::calendar::model::SeriesScope;

    /// The plan as a name, for comparing (the payloads say which event).
    fn plan_of(addressed: Addressed<&str, &str>, scope: Option<SeriesScope>) -> String {
        match addressed.plan(scope) {
            Ok(SeriesPlan::Single(e)) => format!("single {e}"),
            Ok(SeriesPlan::Series(e)) => format!("series {e}"),
            Ok(SeriesPlan::Instance(i)) => format!("instance {i}"),
            Ok(SeriesPlan::SeriesOf(i)) => format!("series of {i}"),
            Ok(SeriesPlan::Following(i)) => format!("following {i}"),
            Err(e) => format!("error {e}"),
        }
    }

    #[test]
    fn every_scope_on_every_kind_of_id_has_one_plan() {
        use Addressed::{Instance, Series, Single};
        use SeriesScope::{All, ThisAndFollowing, ThisInstance};
        // A one-off event is itself whatever the scope.
        for scope in [None, Some(ThisInstance), Some(ThisAndFollowing), Some(All)] {
            assert_eq!(plan_of(Single("e"), scope), "single e");
        }
        assert_eq!(plan_of(Series("s"), None), "series s");
        assert_eq!(plan_of(Series("s"), Some(All)), "series s");
        for scope in [ThisInstance, ThisAndFollowing] {
            let refused = plan_of(Series("s"), Some(scope));
            assert!(refused.contains("needs an instance id"), "{refused}");
        }
        assert_eq!(plan_of(Instance("i"), None), "instance i");
        assert_eq!(plan_of(Instance("i"), Some(ThisInstance)), "instance i");
        assert_eq!(plan_of(Instance("i"), Some(All)), "series of i");
        assert_eq!(
            plan_of(Instance("i"), Some(ThisAndFollowing)),
            "following i"
        );
    }
}
