//! Reading a WebDAV `multistatus` answer (RFC 4918 §13): for each resource,
//! its href and the properties the server returned with a 2xx status.
//! Namespaces are matched by URI, never by prefix (Radicale writes `DAV:` as
//! the default namespace, Xandikos as `ns0:`).

use roxmltree::{Document, Node, ParsingOptions};

/// The `DAV:` namespace.
pub const DAV: &str = "DAV:";
/// The CalDAV namespace (RFC 4791).
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// Apple's iCal namespace (`calendar-color`).
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";

/// Most `response` elements one answer may hold.
pub const MAX_RESPONSES: usize = 10_000;

/// One resource of a multistatus answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Its href, as the server wrote it (percent-encoded path, or a URL).
    pub href: String,
    /// The properties found (status 2xx), in document order.
    pub props: Vec<Property>,
}

/// One property of a resource, reduced to what the backend reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Its namespace URI.
    pub namespace: String,
    /// Its local name.
    pub name: String,
    /// Its text content, trimmed (empty for a property of elements only).
    pub text: String,
    /// The `href`s inside it (`current-user-principal`, `calendar-home-set`).
    pub hrefs: Vec<String>,
    /// The local names of its child elements (`resourcetype`), with, for a
    /// `comp` child, its `name` attribute (`supported-calendar-component-set`).
    pub children: Vec<String>,
}

impl Resource {
    /// The property `name` in `namespace`, if the server returned it.
    pub fn prop(&self, namespace: &str, name: &str) -> Option<&Property> {
        self.props
            .iter()
            .find(|p| p.namespace == namespace && p.name == name)
    }
}

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultistatusError {
    /// Not XML, or XML with a DTD (refused: entity expansion).
    #[error("the answer is not XML: {0}")]
    NotXml(String),
    /// XML, but not a `DAV:multistatus`.
    #[error("the answer is not a WebDAV multistatus")]
    NotMultistatus,
    /// More than [`MAX_RESPONSES`] resources.
    #[error("the answer lists more than {MAX_RESPONSES} resources")]
    TooMany,
}

/// The resources of a multistatus answer.
pub fn parse(xml: &str) -> Result<Vec<Resource>, MultistatusError> {
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let document = Document::parse_with_options(xml, options)
        .map_err(|e| MultistatusError::NotXml(e.to_string()))?;
    let root = document.root_element();
    if !is(root, DAV, "multistatus") {
        return Err(MultistatusError::NotMultistatus);
    }
    let mut resources = Vec::new();
    for response in root.children().filter(|n| is(*n, DAV, "response")) {
        if resources.len() == MAX_RESPONSES {
            return Err(MultistatusError::TooMany);
        }
        let Some(href) = child(response, DAV, "href").map(text_of) else {
            continue;
        };
        let props = response
            .children()
            .filter(|n| is(*n, DAV, "propstat"))
            .filter(|propstat| child(*propstat, DAV, "status").is_some_and(is_success))
            .filter_map(|propstat| child(propstat, DAV, "prop"))
            .flat_map(|prop| prop.children().filter(Node::is_element))
            .map(property)
            .collect();
        resources.push(Resource { href, props });
    }
    Ok(resources)
}

fn property(node: Node<'_, '_>) -> Property {
    let children: Vec<Node<'_, '_>> = node.children().filter(Node::is_element).collect();
    Property {
        namespace: node.tag_name().namespace().unwrap_or_default().to_owned(),
        name: node.tag_name().name().to_owned(),
        text: text_of(node),
        hrefs: children
            .iter()
            .filter(|n| is(**n, DAV, "href"))
            .map(|n| text_of(*n))
            .collect(),
        children: children
            .iter()
            .map(|n| match n.attribute("name") {
                Some(component) if n.tag_name().name() == "comp" => component.to_owned(),
                _ => n.tag_name().name().to_owned(),
            })
            .collect(),
    }
}

/// Whether a `status` element says 2xx (`HTTP/1.1 200 OK`).
fn is_success(status: Node<'_, '_>) -> bool {
    text_of(status)
        .split_whitespace()
        .nth(1)
        .is_some_and(|code| code.starts_with('2') && code.len() == 3)
}

fn is(node: Node<'_, '_>, namespace: &str, name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node.tag_name().namespace() == Some(namespace)
}

fn child<'a, 'input>(
    node: Node<'a, 'input>,
    namespace: &str,
    name: &str,
) -> Option<Node<'a, 'input>> {
    node.children().find(|n| is(*n, namespace, name))
}

/// The text of `node` and its descendants, trimmed.
fn text_of(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(Node::is_text)
        .filter_map(|n| n.text())
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests;
