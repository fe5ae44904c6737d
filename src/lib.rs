//! mcp-gateway (work in progress)
pub mod calendar;
