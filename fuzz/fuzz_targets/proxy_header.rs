//! The PROXY header parser on arbitrary bytes: an address, a health check
//! (no address), or a malformed-header refusal; never a panic, never another
//! reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_gateway::denial::Reason;
use mcp_gateway::policy::address::proxy::parse_header;

fuzz_target!(|bytes: &[u8]| {
    if let Err(denial) = parse_header(bytes) {
        assert_eq!(denial.reason, Reason::MalformedProxyHeader);
    }
});
