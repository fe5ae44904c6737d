//! In-process bans, for deployments where fail2ban cannot run (the distroless
//! image): `bans.after` ban-worthy refusals ([`crate::denial::Reason::ban_worthy`],
//! the same rule the fail2ban filter applies) from one address within
//! `bans.within` ban it for `bans.ban_for`; a banned address is dropped at
//! accept, before TLS. Ban and unban are logged and counted; the table holds at
//! most `bans.max_addresses` addresses. With `bans.shared_dir`, the bans one
//! replica decides hold on every replica ([`crate::gateway::shared_bans`]).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::BanRule;

#[derive(Debug, Default)]
struct Track {
    /// When the recent ban-worthy refusals happened (at most `after`).
    recent: VecDeque<Instant>,
    /// Set while banned.
    banned_until: Option<Instant>,
    /// The ban came from another replica: not published again.
    imported: bool,
}

/// What a refusal did to its address.
#[derive(Debug, PartialEq, Eq)]
pub enum Strike {
    /// Counted; not (yet) banned.
    Counted,
    /// This refusal banned the address, for this long.
    Banned(Duration),
}

/// The ban table.
#[derive(Debug)]
pub struct Bans {
    rule: BanRule,
    table: Mutex<HashMap<IpAddr, Track>>,
    /// Ban-worthy refusals the other replicas counted per address within
    /// the window, as they last published them: added to this replica's own
    /// so that `after` holds for the whole deployment, not per replica.
    remote: Mutex<HashMap<IpAddr, usize>>,
}

impl Bans {
    /// An empty table under `rule`.
    pub fn new(rule: BanRule) -> Bans {
        Bans {
            rule,
            table: Mutex::new(HashMap::new()),
            remote: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Track>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `ip` is banned at `now`; an expired ban is lifted (true in the
    /// second value, so the caller logs the unban once).
    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> (bool, bool) {
        let mut table = self.lock();
        let Some(track) = table.get_mut(&ip) else {
            return (false, false);
        };
        match track.banned_until {
            Some(until) if now < until => (true, false),
            Some(_) => {
                table.remove(&ip);
                crate::telemetry::bans_active(self.active_in(&table, now));
                (false, true)
            }
            None => (false, false),
        }
    }

    /// Counts one ban-worthy refusal of `ip`.
    pub fn strike(&self, ip: IpAddr, now: Instant) -> Strike {
        let mut table = self.lock();
        if !table.contains_key(&ip) && table.len() >= self.rule.max_addresses {
            // Room first: forget the quiet (or long unbanned) addresses.
            let within = self.rule.within;
            table.retain(|_, t| {
                t.banned_until.is_some_and(|until| until > now)
                    || t.recent
                        .back()
                        .is_some_and(|last| now.duration_since(*last) < within)
            });
            if table.len() >= self.rule.max_addresses {
                return Strike::Counted;
            }
        }
        let track = table.entry(ip).or_default();
        if track.banned_until.is_some_and(|until| until > now) {
            return Strike::Counted;
        }
        track.recent.push_back(now);
        while track
            .recent
            .front()
            .is_some_and(|first| now.duration_since(*first) > self.rule.within)
        {
            track.recent.pop_front();
        }
        let elsewhere = self
            .remote
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&ip)
            .copied()
            .unwrap_or(0);
        if track.recent.len().saturating_add(elsewhere) < self.rule.after {
            return Strike::Counted;
        }
        track.recent.clear();
        track.banned_until = Some(now + self.rule.ban_for);
        track.imported = false;
        crate::telemetry::bans_active(self.active_in(&table, now));
        Strike::Banned(self.rule.ban_for)
    }

    /// The bans this replica decided that are still in force, with what is
    /// left of each: what it publishes to the others.
    pub fn own(&self, now: Instant) -> Vec<(IpAddr, Duration)> {
        let table = self.lock();
        let mut own: Vec<(IpAddr, Duration)> = table
            .iter()
            .filter(|(_, t)| !t.imported)
            .filter_map(|(ip, t)| Some((*ip, t.banned_until?.checked_duration_since(now)?)))
            .filter(|(_, left)| !left.is_zero())
            .collect();
        own.sort();
        own
    }

    /// How long a ban-worthy refusal counts (`bans.within`).
    pub fn within(&self) -> Duration {
        self.rule.within
    }

    /// The longest a ban may last here (`bans.ban_for`): no ban taken in
    /// from another replica's file lasts longer.
    pub fn longest(&self) -> Duration {
        self.rule.ban_for
    }

    /// The ban-worthy refusals this replica counted within the window, per
    /// address not banned: what it publishes for the others to add up.
    pub fn own_strikes(&self, now: Instant) -> Vec<(IpAddr, usize)> {
        let table = self.lock();
        let mut strikes: Vec<(IpAddr, usize)> = table
            .iter()
            .filter(|(_, t)| t.banned_until.is_none_or(|until| until <= now))
            .map(|(ip, t)| {
                let recent = t
                    .recent
                    .iter()
                    .filter(|at| now.duration_since(**at) <= self.rule.within)
                    .count();
                (*ip, recent)
            })
            .filter(|(_, recent)| *recent > 0)
            .collect();
        strikes.sort();
        strikes
    }

    /// What the other replicas counted, replacing what they said before.
    /// Only addresses this table could track are kept (a bounded map).
    pub fn set_remote_strikes(&self, strikes: HashMap<IpAddr, usize>) {
        let mut strikes = strikes;
        if strikes.len() > self.rule.max_addresses {
            let mut largest: Vec<(IpAddr, usize)> = strikes.into_iter().collect();
            largest.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
            largest.truncate(self.rule.max_addresses);
            strikes = largest.into_iter().collect();
        }
        *self.remote.lock().unwrap_or_else(|p| p.into_inner()) = strikes;
    }

    /// Bans `ip` until `until` because another replica did; true when that
    /// is news (not banned here until then already). Imported bans take at
    /// most half the table: the other half stays for the bans this replica
    /// decides, so files from elsewhere can never crowd out a real attacker.
    pub fn import(&self, ip: IpAddr, until: Instant, now: Instant) -> bool {
        let mut table = self.lock();
        // Counted only for an address new to the table: the folder is read
        // every half second, and most of what it says is known already.
        if !table.contains_key(&ip)
            && (table.len() >= self.rule.max_addresses
                || table.values().filter(|t| t.imported).count() >= self.rule.max_addresses / 2)
        {
            return false;
        }
        let track = table.entry(ip).or_default();
        if track.banned_until.is_some_and(|current| current >= until) {
            return false;
        }
        let was_banned = track.banned_until.is_some_and(|current| current > now);
        track.banned_until = Some(until);
        if !was_banned {
            track.imported = true;
        }
        crate::telemetry::bans_active(self.active_in(&table, now));
        !was_banned
    }

    fn active_in(&self, table: &HashMap<IpAddr, Track>, now: Instant) -> usize {
        table
            .values()
            .filter(|t| t.banned_until.is_some_and(|until| until > now))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::{BanRule, Bans, Instant, Strike};
    use std::time::Duration;

    fn rule(max_addresses: usize) -> BanRule {
        BanRule {
            after: 3,
            within: Duration::from_secs(60),
            ban_for: Duration::from_secs(600),
            max_addresses,
            shared_dir: None,
        }
    }

    #[test]
    fn imported_bans_hold_and_are_not_published_again() {
        let bans = Bans::new(rule(100));
        let (mine, theirs) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            bans.strike(mine, t0);
        }
        assert!(bans.import(theirs, t0 + Duration::from_secs(60), t0));
        assert!(
            !bans.import(theirs, t0 + Duration::from_secs(30), t0),
            "not news"
        );
        assert_eq!(
            bans.is_banned(theirs, t0 + Duration::from_secs(10)),
            (true, false)
        );
        assert_eq!(bans.own(t0), [(mine, Duration::from_secs(600))]);
        // A ban decided here stays this replica's, even when another replica
        // bans the same address for longer.
        assert!(!bans.import(mine, t0 + Duration::from_secs(900), t0));
        assert_eq!(bans.own(t0), [(mine, Duration::from_secs(900))]);
    }

    #[test]
    fn the_third_strike_in_the_window_bans_until_it_expires() {
        let bans = Bans::new(rule(100));
        let ip = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(bans.strike(ip, t0), Strike::Counted);
        // Outside the window: the first strike no longer counts.
        assert_eq!(
            bans.strike(ip, t0 + Duration::from_secs(70)),
            Strike::Counted
        );
        assert_eq!(
            bans.strike(ip, t0 + Duration::from_secs(80)),
            Strike::Counted
        );
        assert_eq!(
            bans.strike(ip, t0 + Duration::from_secs(90)),
            Strike::Banned(Duration::from_secs(600))
        );
        assert_eq!(
            bans.is_banned(ip, t0 + Duration::from_secs(100)),
            (true, false)
        );
        assert_eq!(
            bans.is_banned("10.0.0.2".parse().unwrap(), t0),
            (false, false)
        );
        assert_eq!(
            bans.is_banned(ip, t0 + Duration::from_secs(700)),
            (false, true)
        );
        assert_eq!(
            bans.is_banned(ip, t0 + Duration::from_secs(701)),
            (false, false)
        );
    }

    #[test]
    fn strikes_elsewhere_count_towards_the_threshold() {
        let bans = Bans::new(rule(100));
        let ip = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(bans.strike(ip, t0), Strike::Counted);
        assert_eq!(bans.own_strikes(t0), [(ip, 1)]);
        // Another replica saw one: the third in the deployment bans here.
        bans.set_remote_strikes([(ip, 1)].into_iter().collect());
        assert_eq!(
            bans.strike(ip, t0),
            Strike::Banned(Duration::from_secs(600))
        );
        assert!(
            bans.own_strikes(t0).is_empty(),
            "a banned address has no strikes to share"
        );
    }

    #[test]
    fn imported_bans_leave_room_for_our_own() {
        let bans = Bans::new(rule(4));
        let t0 = Instant::now();
        let until = t0 + Duration::from_secs(60);
        assert!(bans.import("10.0.1.1".parse().unwrap(), until, t0));
        assert!(bans.import("10.0.1.2".parse().unwrap(), until, t0));
        assert!(
            !bans.import("10.0.1.3".parse().unwrap(), until, t0),
            "past half the table"
        );
        let attacker = "10.0.0.9".parse().unwrap();
        for _ in 0..2 {
            bans.strike(attacker, t0);
        }
        assert_eq!(
            bans.strike(attacker, t0),
            Strike::Banned(Duration::from_secs(600))
        );
    }

    #[test]
    fn the_table_stays_bounded() {
        let bans = Bans::new(rule(2));
        let t0 = Instant::now();
        for i in 0..10u8 {
            bans.strike(std::net::IpAddr::from([10, 0, 0, i]), t0);
        }
        assert!(bans.lock().len() <= 2);
    }
}
