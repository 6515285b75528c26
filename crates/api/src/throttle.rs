//! Request-rate limits for the unsigned operations (the ones anyone can call: sign-in, sign-up,
//! account recovery, and the calls made with a user's access token).
//!
//! Each operation belongs to one of Cognito's quota categories (UserAuthentication, UserCreation,
//! UserAccountRecovery, ...). A request spends one token from two buckets of its category: the
//! bucket of its source address and, when the request names an app client (`ClientId`), the
//! bucket of that client. An empty bucket answers TooManyRequestsException "Rate exceeded", as
//! Cognito does, without touching the database or the CPU pool, so a flood from one source or
//! against one client does not slow anyone else down.
//!
//! The buckets live in this node's memory: with several nodes behind a load balancer each node
//! allows the configured rate. Memory is bounded: at most `max_tracked` buckets are kept; idle
//! buckets (refilled to the brim, so no different from a new one) are dropped first.
//!
//! Signed (administrative) operations are not limited here: their callers hold credentials.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use cognito_model::operations::Operation;
use dashmap::DashMap;
use domain::CognitoError;
use serde_json::Value;

use crate::error::ApiError;

/// Cognito's quota categories that hold unsigned operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    UserAuthentication,
    UserCreation,
    UserAccountRecovery,
    UserRead,
    UserUpdate,
    UserResourceRead,
    UserResourceUpdate,
    UserToken,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::UserAuthentication,
        Category::UserCreation,
        Category::UserAccountRecovery,
        Category::UserRead,
        Category::UserUpdate,
        Category::UserResourceRead,
        Category::UserResourceUpdate,
        Category::UserToken,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::UserAuthentication => "UserAuthentication",
            Category::UserCreation => "UserCreation",
            Category::UserAccountRecovery => "UserAccountRecovery",
            Category::UserRead => "UserRead",
            Category::UserUpdate => "UserUpdate",
            Category::UserResourceRead => "UserResourceRead",
            Category::UserResourceUpdate => "UserResourceUpdate",
            Category::UserToken => "UserToken",
        }
    }

    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Cognito's default quota for the category, in requests per second ("Quotas in Amazon
    /// Cognito"). Cognito applies it to a whole account; here it is the default per source and
    /// per app client.
    pub fn cognito_default(self) -> f64 {
        match self {
            Category::UserAuthentication | Category::UserRead | Category::UserToken => 120.0,
            Category::UserCreation | Category::UserResourceRead => 50.0,
            Category::UserAccountRecovery => 30.0,
            Category::UserUpdate | Category::UserResourceUpdate => 25.0,
        }
    }

    /// The category of an unsigned operation; `None` for signed ones. Where Cognito's table
    /// names the operation its category is used; the newer operations (WebAuthn, user sessions,
    /// GetTokensFromRefreshToken) go where their kind of work belongs.
    pub fn of(op: Operation) -> Option<Category> {
        use Operation as O;
        Some(match op {
            O::InitiateAuth | O::RespondToAuthChallenge => Category::UserAuthentication,
            O::SignUp | O::ConfirmSignUp => Category::UserCreation,
            O::ForgotPassword | O::ConfirmForgotPassword | O::ChangePassword => {
                Category::UserAccountRecovery
            }
            O::GetUser | O::GetUserAuthFactors => Category::UserRead,
            O::UpdateUserAttributes
            | O::DeleteUserAttributes
            | O::VerifyUserAttribute
            | O::GetUserAttributeVerificationCode
            | O::ResendConfirmationCode
            | O::DeleteUser
            | O::SetUserSettings
            | O::SetUserMFAPreference
            | O::AssociateSoftwareToken
            | O::VerifySoftwareToken
            | O::UpdateAuthEventFeedback => Category::UserUpdate,
            O::GetDevice | O::ListDevices | O::ListWebAuthnCredentials | O::ListUserSessions => {
                Category::UserResourceRead
            }
            O::ConfirmDevice
            | O::ForgetDevice
            | O::UpdateDeviceStatus
            | O::StartWebAuthnRegistration
            | O::CompleteWebAuthnRegistration
            | O::DeleteWebAuthnCredential => Category::UserResourceUpdate,
            O::GlobalSignOut
            | O::RevokeToken
            | O::GetTokensFromRefreshToken
            | O::RevokeUserSession => Category::UserToken,
            _ => return None,
        })
    }
}

/// A network in CIDR form (`10.0.0.0/8`, `2001:db8::/32`) or a single address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("'{s}' is not an IP address or network (like 10.0.0.0/8)");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let network = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { network, prefix })
    }
}

/// IPv4 peers can appear as IPv4-mapped IPv6 addresses on a dual-stack socket.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The limits of this node.
#[derive(Clone, Debug)]
pub struct ThrottleConfig {
    /// Off: nothing is counted or refused.
    pub enabled: bool,
    /// Requests per second per source address, by category (0: no limit for the category).
    pub per_source: Vec<(Category, f64)>,
    /// Requests per second per app client, by category (0: no limit).
    pub per_client: Vec<(Category, f64)>,
    /// A bucket holds this many seconds' worth of its rate, so short bursts pass.
    pub burst_seconds: f64,
    /// Peers whose `X-Forwarded-For` is believed (load balancers, reverse proxies).
    pub trusted_proxies: Vec<Cidr>,
    /// Buckets kept at most (each about 100 bytes).
    pub max_tracked: usize,
}

pub const DEFAULT_BURST_SECONDS: f64 = 2.0;
pub const DEFAULT_MAX_TRACKED: usize = 100_000;

impl Default for ThrottleConfig {
    fn default() -> Self {
        let defaults: Vec<(Category, f64)> = Category::ALL
            .into_iter()
            .map(|c| (c, c.cognito_default()))
            .collect();
        ThrottleConfig {
            enabled: true,
            per_source: defaults.clone(),
            per_client: defaults,
            burst_seconds: DEFAULT_BURST_SECONDS,
            trusted_proxies: vec![],
            max_tracked: DEFAULT_MAX_TRACKED,
        }
    }
}

impl ThrottleConfig {
    pub fn disabled() -> Self {
        ThrottleConfig {
            enabled: false,
            ..Default::default()
        }
    }

    /// Sets one category's rate in `per_source` or `per_client`.
    pub fn set(list: &mut Vec<(Category, f64)>, category: Category, rate: f64) {
        match list.iter_mut().find(|(c, _)| *c == category) {
            Some(entry) => entry.1 = rate,
            None => list.push((category, rate)),
        }
    }
}

/// Who a bucket counts: one source address (an IPv6 source by its /64, which one host
/// usually holds whole) or one app client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Scope {
    Source(IpAddr),
    Client(Box<str>),
}

/// RespondToAuthChallenge has its own bucket at three times the UserAuthentication rate, as in
/// Cognito, since one sign-in may answer several challenges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Category(Category),
    AuthChallenge,
}

const CHALLENGE_FACTOR: f64 = 3.0;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Clone, Copy, Debug)]
struct Rate {
    per_second: f64,
    capacity: f64,
}

impl Rate {
    fn refill(&self, b: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        (b.tokens + elapsed * self.per_second).min(self.capacity)
    }
}

/// Sweeps of idle buckets happen at most this often, so a full table cannot make every request
/// walk it.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub struct Throttle {
    config: ThrottleConfig,
    buckets: DashMap<(Scope, Kind), Bucket>,
    last_sweep: Mutex<Option<Instant>>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Self {
        Throttle {
            config,
            buckets: DashMap::new(),
            last_sweep: Mutex::new(None),
        }
    }

    pub fn disabled() -> Self {
        Throttle::new(ThrottleConfig::disabled())
    }

    /// Admits or refuses one request (the one call site, in `server::process`).
    pub fn admit(&self, op: Operation, req: &HttpRequest, input: &Value) -> Result<(), ApiError> {
        if !self.config.enabled {
            return Ok(());
        }
        let Some(category) = Category::of(op) else {
            return Ok(());
        };
        let kind = if op == Operation::RespondToAuthChallenge {
            Kind::AuthChallenge
        } else {
            Kind::Category(category)
        };
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let source = self.source(req.peer_addr().map(|a| a.ip()), forwarded);
        // Only a modelled ClientId names the client: one the operation ignores must not let a
        // caller spread over fresh buckets or drain another client's (as in access checks).
        let client = crate::access::modelled_str(op, input, "ClientId");
        if self.allow(kind, source, client, Instant::now()) {
            Ok(())
        } else {
            Err(CognitoError::rate_exceeded().into())
        }
    }

    /// The address a request is counted against: the peer, or, when the peer is a trusted
    /// proxy, the nearest untrusted hop of `X-Forwarded-For`. The header is read from the right,
    /// because each proxy appends the address it saw: entries to the left of the nearest
    /// untrusted hop were written by the client and prove nothing.
    fn source(&self, peer: Option<IpAddr>, forwarded: Option<&str>) -> Option<IpAddr> {
        let peer = canonical(peer?);
        let trusted = |ip: IpAddr| self.config.trusted_proxies.iter().any(|c| c.contains(ip));
        if !trusted(peer) {
            return Some(peer);
        }
        let mut nearest = peer;
        for hop in forwarded.unwrap_or("").rsplit(',') {
            let Some(ip) = parse_hop(hop) else { break };
            nearest = ip;
            if !trusted(ip) {
                break;
            }
        }
        Some(nearest)
    }

    fn rate(&self, list: &[(Category, f64)], kind: Kind) -> Option<Rate> {
        let (category, factor) = match kind {
            Kind::Category(c) => (c, 1.0),
            Kind::AuthChallenge => (Category::UserAuthentication, CHALLENGE_FACTOR),
        };
        let per_second = list
            .iter()
            .find(|(c, _)| *c == category)
            .map(|(_, r)| *r * factor)
            .filter(|r| *r > 0.0 && r.is_finite())?;
        Some(Rate {
            per_second,
            capacity: (per_second * self.config.burst_seconds).max(1.0),
        })
    }

    /// Takes one token from the source's bucket and one from the client's; refuses when either
    /// is empty. The source is asked first, so a flood against one client from one address
    /// drains that address's bucket before it touches the client's.
    fn allow(
        &self,
        kind: Kind,
        source: Option<IpAddr>,
        client: Option<&str>,
        now: Instant,
    ) -> bool {
        if let (Some(ip), Some(rate)) = (source, self.rate(&self.config.per_source, kind)) {
            if !self.take(Scope::Source(bucket_address(ip)), kind, rate, now) {
                return false;
            }
        }
        if let (Some(id), Some(rate)) = (client, self.rate(&self.config.per_client, kind)) {
            // Validation already bounds ClientId (1..=128 characters); the check keeps a
            // malformed one from becoming a key.
            if id.len() <= 128 && !self.take(Scope::Client(id.into()), kind, rate, now) {
                return false;
            }
        }
        true
    }

    fn take(&self, scope: Scope, kind: Kind, rate: Rate, now: Instant) -> bool {
        let key = (scope, kind);
        if let Some(mut b) = self.buckets.get_mut(&key) {
            let tokens = rate.refill(&b, now);
            let allowed = tokens >= 1.0;
            *b = Bucket {
                tokens: if allowed { tokens - 1.0 } else { tokens },
                at: now,
            };
            return allowed;
        }
        if self.buckets.len() >= self.config.max_tracked && !self.make_room(now) {
            // The table is full of active buckets and was swept a moment ago: this key goes
            // uncounted for now (the CPU queue bound still protects the node).
            return true;
        }
        self.buckets.insert(
            key,
            Bucket {
                tokens: rate.capacity - 1.0,
                at: now,
            },
        );
        true
    }

    /// Drops idle buckets (refilled to the brim), then, if the table is still over 3/4 full,
    /// arbitrary ones: a dropped bucket starts full again, which is lenient but bounded.
    /// Returns whether there is room now.
    fn make_room(&self, now: Instant) -> bool {
        {
            let Ok(mut last) = self.last_sweep.lock() else {
                return false;
            };
            if last.is_some_and(|t| now.saturating_duration_since(t) < SWEEP_EVERY) {
                return self.buckets.len() < self.config.max_tracked;
            }
            *last = Some(now);
        }
        // A bucket idle for its whole burst length has refilled to the brim: dropping it changes
        // nothing, since a new bucket starts full.
        let burst = self.config.burst_seconds;
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.at).as_secs_f64() < burst);
        let target = self.config.max_tracked / 4 * 3;
        if self.buckets.len() > target {
            let excess = self.buckets.len() - target;
            let victims: Vec<_> = self
                .buckets
                .iter()
                .take(excess)
                .map(|e| e.key().clone())
                .collect();
            for k in victims {
                self.buckets.remove(&k);
            }
        }
        self.buckets.len() < self.config.max_tracked
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

/// An IPv6 source is counted by its /64: one host or one customer usually holds a whole /64,
/// so counting single addresses would let it rotate through 2^64 of them.
fn bucket_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rate: f64) -> ThrottleConfig {
        ThrottleConfig {
            per_source: vec![(Category::UserAuthentication, rate)],
            per_client: vec![(Category::UserAuthentication, rate)],
            ..Default::default()
        }
    }

    const AUTH: Kind = Kind::Category(Category::UserAuthentication);

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn every_unsigned_operation_has_a_category_and_no_signed_one_does() {
        let unsigned: Vec<_> = Operation::ALL
            .into_iter()
            .filter(|o| !o.is_signed())
            .collect();
        assert_eq!(unsigned.len(), 34);
        for op in Operation::ALL {
            assert_eq!(Category::of(op).is_some(), !op.is_signed(), "{}", op.name());
        }
        for c in Category::ALL {
            assert_eq!(Category::from_name(c.name()), Some(c));
        }
    }

    #[test]
    fn a_source_gets_its_burst_then_the_rate() {
        let t = Throttle::new(config(5.0));
        let start = Instant::now();
        // 5/s with a 2 s burst: ten at once, then one per 200 ms.
        for i in 0..10 {
            assert!(t.allow(AUTH, ip("10.0.0.1"), None, start), "request {i}");
        }
        assert!(!t.allow(AUTH, ip("10.0.0.1"), None, start));
        assert!(!t.allow(
            AUTH,
            ip("10.0.0.1"),
            None,
            start + Duration::from_millis(150)
        ));
        assert!(t.allow(
            AUTH,
            ip("10.0.0.1"),
            None,
            start + Duration::from_millis(400)
        ));
        // Another source and another category are untouched.
        assert!(t.allow(AUTH, ip("10.0.0.2"), None, start));
        assert!(t.allow(
            Kind::Category(Category::UserUpdate),
            ip("10.0.0.1"),
            None,
            start
        ));
    }

    #[test]
    fn a_client_is_limited_across_sources() {
        let t = Throttle::new(config(1.0));
        let now = Instant::now();
        assert!(t.allow(AUTH, ip("10.0.0.1"), Some("clientA"), now));
        assert!(t.allow(AUTH, ip("10.0.0.2"), Some("clientA"), now));
        assert!(!t.allow(AUTH, ip("10.0.0.3"), Some("clientA"), now));
        assert!(t.allow(AUTH, ip("10.0.0.3"), Some("clientB"), now));
    }

    #[test]
    fn challenges_get_three_times_the_authentication_rate() {
        let t = Throttle::new(config(1.0));
        let now = Instant::now();
        let passed = (0..20)
            .filter(|_| t.allow(Kind::AuthChallenge, ip("10.0.0.1"), None, now))
            .count();
        assert_eq!(passed, 6);
    }

    #[test]
    fn disabled_or_zero_rate_limits_nothing() {
        let t = Throttle::new(config(0.0));
        let now = Instant::now();
        assert!((0..1000).all(|_| t.allow(AUTH, ip("10.0.0.1"), Some("c"), now)));
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let t = Throttle::new(ThrottleConfig {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()],
            ..Default::default()
        });
        // Untrusted peer: the header is ignored.
        assert_eq!(
            t.source(ip("203.0.113.9"), Some("1.1.1.1")),
            ip("203.0.113.9")
        );
        // Trusted peer: the nearest untrusted hop, not the client-written left end.
        assert_eq!(
            t.source(ip("10.1.2.3"), Some("6.6.6.6, 198.51.100.7, 10.9.9.9")),
            ip("198.51.100.7")
        );
        assert_eq!(
            t.source(ip("::1"), Some("[2001:db8::5]:443")),
            ip("2001:db8::5")
        );
        // No header, or garbage left of the trusted hops: the nearest address known.
        assert_eq!(t.source(ip("10.1.2.3"), None), ip("10.1.2.3"));
        assert_eq!(
            t.source(ip("10.1.2.3"), Some("junk, 10.0.0.7")),
            ip("10.0.0.7")
        );
        // IPv4-mapped peers match IPv4 networks.
        assert_eq!(
            t.source(ip("::ffff:10.0.0.1"), Some("192.0.2.1")),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn ipv6_sources_share_their_64() {
        let t = Throttle::new(config(0.5));
        let now = Instant::now();
        assert!(t.allow(AUTH, ip("2001:db8:1:2::1"), None, now));
        assert!(!t.allow(AUTH, ip("2001:db8:1:2::ffff"), None, now));
        assert!(t.allow(AUTH, ip("2001:db8:1:3::1"), None, now));
    }

    #[test]
    fn memory_stays_bounded_under_many_sources() {
        let t = Throttle::new(ThrottleConfig {
            max_tracked: 100,
            ..config(10.0)
        });
        let start = Instant::now();
        for i in 0..10_000u32 {
            let at = start + Duration::from_millis(u64::from(i));
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            t.allow(AUTH, Some(addr), None, at);
            assert!(t.tracked() <= 100);
        }
    }

    #[test]
    fn cidr_parsing() {
        let c: Cidr = "192.168.0.0/16".parse().unwrap();
        assert!(c.contains("192.168.44.1".parse().unwrap()));
        assert!(!c.contains("192.169.0.1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
    }
}
