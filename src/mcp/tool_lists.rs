//! Stateless `tools/list` answers serialized once per distinct list.
//!
//! A token's permissions decide which tools it sees, so a gateway serves a
//! handful of distinct lists, each a few kilobytes of JSON schemas written
//! again on every stateless `tools/list`. The handler still runs for every
//! request (rmcp's checks, the grant's filter); only writing its result is
//! skipped when an equal result was written before. Equality is the derived
//! `PartialEq` of the whole result, so the bytes reused are those of an equal
//! value; the schemas, shared by every list, compare by pointer first.

use std::sync::{Arc, Mutex};

use rmcp::model::ListToolsResult;
use serde_json::value::RawValue;

/// Most distinct lists kept; past it, a list is written every time.
const MAX_LISTS: usize = 64;

/// The results written so far, with their JSON.
#[derive(Default)]
pub struct ToolListAnswers {
    written: Mutex<Vec<(ListToolsResult, Arc<RawValue>)>>,
}

impl ToolListAnswers {
    /// `result` as JSON: the bytes of an equal result written before, or
    /// written now (and kept, up to [`MAX_LISTS`]).
    pub fn json(&self, result: &ListToolsResult) -> serde_json::Result<Arc<RawValue>> {
        {
            let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, json)) = written.iter().find(|(kept, _)| kept == result) {
                return Ok(Arc::clone(json));
            }
        }
        let json: Arc<RawValue> = serde_json::value::to_raw_value(result)?.into();
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if written.len() < MAX_LISTS {
            written.push((result.clone(), Arc::clone(&json)));
        }
        Ok(json)
    }

    /// How many lists are kept.
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.written.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::{ListToolsResult, Tool};
    use serde_json::json;

    use super::{MAX_LISTS, ToolListAnswers};

    fn tool(name: &str) -> Tool {
        let schema = json!({ "type": "object" }).as_object().unwrap().clone();
        Tool::new(name.to_owned(), "a tool", std::sync::Arc::new(schema))
    }

    fn written(answers: &ToolListAnswers, result: &ListToolsResult) -> serde_json::Value {
        serde_json::from_str(answers.json(result).unwrap().get()).unwrap()
    }

    /// Each distinct list gets its own JSON, equal to writing it afresh;
    /// an equal list reuses it; the number kept is bounded.
    #[test]
    fn each_list_is_written_as_itself() {
        let answers = ToolListAnswers::default();
        let both = ListToolsResult::with_all_items(vec![tool("a"), tool("b")]);
        let one = ListToolsResult::with_all_items(vec![tool("a")]);
        let mut paged = one.clone();
        paged.next_cursor = Some("2".into());
        for result in [&both, &one, &paged, &both, &one] {
            assert_eq!(
                written(&answers, result),
                serde_json::to_value(result).unwrap()
            );
        }
        assert_eq!(answers.kept(), 3);
        for i in 0..2 * MAX_LISTS {
            let result = ListToolsResult::with_all_items(vec![tool(&format!("t{i}"))]);
            assert_eq!(
                written(&answers, &result),
                serde_json::to_value(&result).unwrap()
            );
        }
        assert_eq!(answers.kept(), MAX_LISTS);
    }
}
