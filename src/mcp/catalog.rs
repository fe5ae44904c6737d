//! What clients read about each tool besides its name and arguments: a title,
//! the behaviour hints they use to ask a person before a destructive call
//! (`readOnlyHint`, `destructiveHint`, `idempotentHint`, `openWorldHint`),
//! and the `outputSchema` its `structuredContent` conforms to. Also makes every
//! schema portable: optional fields are simply not required, never
//! `type: ["string", "null"]`, which several model providers and MCP
//! Inspector reject.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{JsonObject, ToolAnnotations};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::calendar::model::Event;
use crate::mcp::CalendarServer;
use crate::mcp::results::{
    AccessInfo, CalendarList, CurrentTime, Deleted, EventList, FreeBusy, FreeSlots,
};

/// How a tool behaves, as MCP clients read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behaviour {
    /// Shown to people instead of the name.
    pub title: &'static str,
    /// Changes nothing.
    pub read_only: bool,
    /// May overwrite or remove what exists (only meaningful when not read-only).
    pub destructive: bool,
    /// Calling it again with the same arguments changes nothing more.
    pub idempotent: bool,
}

const fn reads(title: &'static str) -> Behaviour {
    Behaviour {
        title,
        read_only: true,
        destructive: false,
        idempotent: true,
    }
}

/// Every tool's behaviour. `openWorldHint` is false for all: a tool touches
/// only the calendar store behind the gateway (no attendee is notified).
pub const BEHAVIOUR: &[(&str, Behaviour)] = &[
    ("get_access_info", reads("Access info")),
    ("list_calendars", reads("List calendars")),
    ("list_events", reads("List events")),
    ("get_event", reads("Get event")),
    ("get_freebusy", reads("Free/busy")),
    ("find_free_slots", reads("Find free slots")),
    ("get_current_time", reads("Current time")),
    // Each call adds one more event: additive, and not idempotent.
    (
        "create_event",
        Behaviour {
            title: "Create event",
            read_only: false,
            destructive: false,
            idempotent: false,
        },
    ),
    // Overwrites fields; `thisAndFollowing` splits a series again on every call.
    (
        "update_event",
        Behaviour {
            title: "Update event",
            read_only: false,
            destructive: true,
            idempotent: false,
        },
    ),
    // Replaces the attendee's previous answer; the same answer twice changes nothing.
    (
        "respond_to_event",
        Behaviour {
            title: "Respond to event",
            read_only: false,
            destructive: true,
            idempotent: true,
        },
    ),
    (
        "delete_event",
        Behaviour {
            title: "Delete event",
            read_only: false,
            destructive: true,
            idempotent: true,
        },
    ),
];

/// The behaviour of `tool`.
pub fn behaviour(tool: &str) -> Option<Behaviour> {
    BEHAVIOUR
        .iter()
        .find(|(name, _)| *name == tool)
        .map(|(_, b)| *b)
}

/// The schema of what serialising `T` writes, made portable.
fn output_schema<T: JsonSchema>() -> JsonObject {
    let schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut value = serde_json::to_value(schema).unwrap_or_default();
    portable(&mut value);
    match value {
        Value::Object(mut object) => {
            object.remove("title");
            object
        }
        _ => JsonObject::new(),
    }
}

/// The schema of `tool`'s `structuredContent`.
fn output_schema_of(tool: &str) -> Option<JsonObject> {
    Some(match tool {
        "get_access_info" => output_schema::<AccessInfo>(),
        "list_calendars" => output_schema::<CalendarList>(),
        "list_events" => output_schema::<EventList>(),
        "get_event" | "create_event" | "update_event" | "respond_to_event" => {
            output_schema::<Event>()
        }
        "delete_event" => output_schema::<Deleted>(),
        "get_freebusy" => output_schema::<FreeBusy>(),
        "find_free_slots" => output_schema::<FreeSlots>(),
        "get_current_time" => output_schema::<CurrentTime>(),
        _ => return None,
    })
}

/// JSON Schema formats every validator knows; schemars' numeric ones
/// (`uint32`, `int64`, …) are not among them.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uuid",
];

/// Rewrites a schema so that optional values are merely not required: drops
/// `null` from `type` lists and from `anyOf` alternatives, `default: null`, and
/// non-standard formats.
pub fn portable(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::Array(types)) = object.get("type") {
                let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                let single = (kept.len() == 1).then(|| kept[0].clone());
                object.insert("type".into(), single.unwrap_or(Value::Array(kept)));
            }
            if let Some(Value::Array(options)) = object.get("anyOf") {
                let kept: Vec<Value> = options
                    .iter()
                    .filter(|o| o.get("type") != Some(&Value::from("null")))
                    .cloned()
                    .collect();
                object.remove("anyOf");
                match <[Value; 1]>::try_from(kept) {
                    Ok([Value::Object(only)]) => object.extend(only),
                    Ok([other]) => {
                        object.insert("anyOf".into(), Value::Array(vec![other]));
                    }
                    Err(several) => {
                        object.insert("anyOf".into(), Value::Array(several));
                    }
                }
            }
            if object.get("default") == Some(&Value::Null) {
                object.remove("default");
            }
            if let Some(Value::String(format)) = object.get("format")
                && !STANDARD_FORMATS.contains(&format.as_str())
            {
                object.remove("format");
            }
            object.values_mut().for_each(portable);
        }
        Value::Array(items) => items.iter_mut().for_each(portable),
        _ => {}
    }
}

/// Gives every tool of `router` its title, hints and output schema, and makes
/// its input schema portable.
pub fn complete(router: &mut ToolRouter<CalendarServer>) {
    for route in router.map.values_mut() {
        let tool = &mut route.attr;
        if let Some(b) = behaviour(&tool.name) {
            tool.title = Some(b.title.to_owned());
            tool.annotations = Some(ToolAnnotations::from_raw(
                Some(b.title.to_owned()),
                Some(b.read_only),
                Some(b.destructive),
                Some(b.idempotent),
                Some(false),
            ));
        }
        tool.output_schema = output_schema_of(&tool.name).map(Arc::new);
        let mut input = Value::Object(tool.input_schema.as_ref().clone());
        portable(&mut input);
        if let Value::Object(object) = input {
            tool.input_schema = Arc::new(object);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BEHAVIOUR, STANDARD_FORMATS, Value, behaviour, complete, output_schema_of};
    use crate::mcp::CalendarServer;
    use crate::policy::grant::Permission;
    use crate::policy::scope::{Requirement, TOOLS};

    /// The hints and the permission table agree: read-only exactly when the
    /// tool needs no more than readCalendars; destructive exactly when it needs
    /// updateEvents or deleteEvents.
    #[test]
    fn hints_agree_with_the_permission_each_tool_needs() {
        assert_eq!(BEHAVIOUR.len(), TOOLS.len());
        for rule in TOOLS {
            let hints =
                behaviour(rule.name).unwrap_or_else(|| panic!("{} has no hints", rule.name));
            let (read_only, destructive) = match rule.requirement {
                Requirement::ValidToken | Requirement::Permission(Permission::ReadCalendars) => {
                    (true, false)
                }
                Requirement::Permission(Permission::CreateEvents) => (false, false),
                Requirement::Permission(Permission::UpdateEvents | Permission::DeleteEvents) => {
                    (false, true)
                }
            };
            assert_eq!(
                (hints.read_only, hints.destructive),
                (read_only, destructive),
                "{}",
                rule.name
            );
            assert!(
                output_schema_of(rule.name).is_some(),
                "{} has no output schema",
                rule.name
            );
        }
    }

    /// Walks a schema, calling `check` on every object in it.
    fn walk(schema: &Value, check: &mut dyn FnMut(&serde_json::Map<String, Value>)) {
        match schema {
            Value::Object(object) => {
                check(object);
                object.values().for_each(|v| walk(v, check));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, check)),
            _ => {}
        }
    }

    #[test]
    fn every_schema_is_portable() {
        let mut router = CalendarServer::tool_router();
        complete(&mut router);
        for tool in router.list_all() {
            let input = Value::Object(tool.input_schema.as_ref().clone());
            let output = Value::Object(
                tool.output_schema
                    .as_deref()
                    .cloned()
                    .expect("output schema"),
            );
            for schema in [&input, &output] {
                assert_eq!(schema["type"], "object", "{}", tool.name);
                walk(schema, &mut |object| {
                    let at = format!("{} {:?}", tool.name, object);
                    if let Some(kind) = object.get("type") {
                        assert!(
                            kind.is_string() && kind != "null",
                            "type list or null: {at}"
                        );
                    }
                    if let Some(Value::Array(options)) = object.get("anyOf") {
                        assert!(
                            options
                                .iter()
                                .all(|o| o.get("type") != Some(&Value::from("null"))),
                            "{at}"
                        );
                    }
                    if let Some(Value::String(format)) = object.get("format") {
                        assert!(STANDARD_FORMATS.contains(&format.as_str()), "{at}");
                    }
                    assert_ne!(object.get("default"), Some(&Value::Null), "{at}");
                    if let (Some(Value::Array(required)), Some(Value::Object(properties))) =
                        (object.get("required"), object.get("properties"))
                    {
                        for name in required {
                            assert!(
                                properties.contains_key(name.as_str().unwrap_or_default()),
                                "{at}"
                            );
                        }
                    }
                });
            }
            let annotations = tool.annotations.expect("annotations");
            assert!(tool.title.is_some() && annotations.open_world_hint == Some(false));
        }
    }
}
