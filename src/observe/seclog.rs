//! The security log: one line per refusal, in a stable format fail2ban parses
//! (`fail2ban/filter.d/mcp-gateway.conf`), written before the client is answered.
//!
//! ```text
//! 2026-11-22T10:30:00.123Z mcp-gateway[1234]: DENY stage=geo reason=country_blocked ip=203.0.113.7 client=- country=KP
//! 2026-11-22T10:30:00.511Z mcp-gateway[1234]: REFUSE stage=scope reason=permission_missing ip=10.8.0.7 client=agent-42 detail="delete_event needs deleteEvents"
//! 2026-11-22T10:30:00.902Z mcp-gateway[1234]: REFUSE stage=proxy reason=missing_proxy_header peer=10.0.0.5 client=-
//! 2026-11-22T10:30:01.456Z mcp-gateway[1234]: ALLOW stage=tls ip=10.8.0.7 client=agent-42
//! ```
//!
//! The event word says what fail2ban may do: `DENY` for refusals an attacker
//! causes ([`crate::denial::Reason::ban_worthy`]), `REFUSE` for the others, so
//! the filter stays one regex on `DENY`. Fields come in a fixed order: `stage`,
//! `reason`, `ip` (always a parsed address; `peer` instead when the refusal is
//! about a trusted load balancer's own traffic), `client`, then optional
//! `country` and `detail`. Every value a client can influence is escaped and
//! bounded by [`crate::observe::escape`], so no client can split a line, forge a field or
//! grow a line without limit.

use crate::denial::{Denial, Stage};
use std::fmt::Write;

use crate::observe::escape::{escape, push_value};
use crate::observe::logsink::LogSink;
use std::net::IpAddr;
use std::path::Path;

/// Where security lines go.
pub struct SecurityLog {
    /// The file or stderr.
    sink: LogSink,
    /// In-process bans fed by the ban-worthy refusals, when `[bans]` is on.
    bans: Option<std::sync::Arc<crate::policy::bans::Bans>>,
}

impl SecurityLog {
    /// Appends to `path`, creating it (mode 0640) when missing.
    pub fn open(path: &Path) -> std::io::Result<SecurityLog> {
        Ok(SecurityLog {
            sink: LogSink::open(path, "security")?,
            bans: None,
        })
    }

    /// Reopens the file (SIGHUP after log rotation); nothing for stderr.
    pub fn reopen(&self) {
        self.sink.reopen();
    }

    /// Whether security lines are being written (see [`LogSink::writable`]).
    pub fn writable(&self) -> bool {
        self.sink.writable()
    }

    /// Writes to stderr.
    pub fn stderr() -> SecurityLog {
        SecurityLog {
            sink: LogSink::stderr("security"),
            bans: None,
        }
    }

    /// Feeds every ban-worthy refusal to `bans` from now on.
    pub fn with_bans(mut self, bans: std::sync::Arc<crate::policy::bans::Bans>) -> SecurityLog {
        self.bans = Some(bans);
        self
    }

    /// Whether `ip` is banned in-process now; a ban that has just expired is
    /// lifted and its `UNBAN` line written.
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        let Some(bans) = &self.bans else {
            return false;
        };
        match bans.is_banned(ip, std::time::Instant::now()) {
            (true, _) => true,
            (false, true) => {
                self.unbanned(ip);
                false
            }
            (false, false) => false,
        }
    }

    /// Records that `ip` is banned here for `left` because the replica whose
    /// shared ban file is `from` banned it.
    pub fn banned_elsewhere(&self, ip: IpAddr, left: std::time::Duration, from: &str) {
        self.banned(ip, left, Some(from));
    }

    /// The BAN line (its own event word: fail2ban's filter matches DENY lines
    /// only), naming the replica's ban file when the ban came from another.
    fn banned(&self, ip: IpAddr, period: std::time::Duration, from: Option<&str>) {
        crate::telemetry::banned();
        let mut line = self.sink.prefix("BAN");
        line.push_str(&format!(" ip={ip} for={}s", period.as_secs()));
        if let Some(from) = from {
            line.push_str(&format!(" from={}", escape(from)));
        }
        self.sink.write(line);
    }

    /// Records that `ip` is no longer banned (its ban expired).
    fn unbanned(&self, ip: IpAddr) {
        let mut line = self.sink.prefix("UNBAN");
        line.push_str(&format!(" ip={ip}"));
        self.sink.write(line);
    }

    /// Records a refusal of `ip` (and `client`, once known).
    pub fn deny(&self, denial: &Denial, ip: impl Into<IpAddr>, client: Option<&str>) {
        let ip = ip.into();
        crate::telemetry::denial(denial);
        let event = if denial.ban_worthy() {
            "DENY"
        } else {
            "REFUSE"
        };
        let address = if denial.concerns_balancer() {
            "peer"
        } else {
            "ip"
        };
        // Written into the line piece by piece, as the audit line is: a
        // refusal of an address runs this for every connection refused.
        let mut line = self.sink.prefix(event);
        let _ = write!(
            line,
            " stage={} reason={} {address}={ip} client=",
            denial.reason.stage().label(),
            denial.reason.label(),
        );
        match client {
            Some(client) => push_value(&mut line, client),
            None => line.push('-'),
        }
        if let Some(country) = &denial.country {
            line.push_str(" country=");
            push_value(&mut line, country);
        }
        if let Some(detail) = &denial.detail {
            line.push_str(" detail=");
            push_value(&mut line, detail);
        }
        self.sink.write(line);
        if let Some(bans) = &self.bans
            && denial.ban_worthy()
            && let crate::policy::bans::Strike::Banned(period) =
                bans.strike(ip, std::time::Instant::now())
        {
            self.banned(ip, period, None);
        }
    }

    /// Records a reload that widened access, naming each widened setting (a
    /// WIDEN line: no fail2ban filter matches it; an operator's alert should).
    pub fn widened(&self, keys: &[&str]) {
        let mut line = self.sink.prefix("WIDEN");
        line.push_str(&format!(" stage=reload keys={}", escape(&keys.join(","))));
        self.sink.write(line);
    }

    /// Records that `client` at `ip` passed `stage` (a word no fail2ban filter matches).
    pub fn allow(&self, stage: Stage, ip: impl Into<IpAddr>, client: &str) {
        let ip = ip.into();
        let mut line = self.sink.prefix("ALLOW");
        let _ = write!(line, " stage={} ip={ip} client=", stage.label());
        push_value(&mut line, client);
        self.sink.write(line);
    }
}
