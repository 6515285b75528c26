//! A per-node cache of users, so AdminGetUser and every call that looks a user up by username or
//! alias is served without a database round trip when the user was read recently.
//!
//! Entries are keyed by how the user was looked up (username key or alias value), so one user may
//! sit under several keys. Writers do not find those keys: they bump a generation counter and
//! leave a *mark* (the generation of the write) on what they changed, the user and the alias
//! values the write claimed. An entry remembers the generation at which its database read began,
//! and is only served while no mark on its user or on its lookup is newer than that. This also
//! covers reads that raced a write: a read that began before the write's mark cannot be stored or
//! served afterwards, whatever order the store and the invalidation happen in.
//!
//! Entries live at most [`TTL`], counted from the start of their read. Marks older than that can
//! therefore be forgotten: any entry whose read began before them has expired. Writes invalidate
//! locally at commit and, on Postgres, every other node through LISTEN/NOTIFY (see `sql`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use domain::ports::{UserMfaRecord, UserRecord};

/// Entries are read again at least this often even if a notification were somehow missed.
pub const TTL: Duration = Duration::from_secs(60);
/// The default number of cached lookups per node.
pub const DEFAULT_CAPACITY: usize = 100_000;
/// Marks kept before old ones are pruned; if all are younger than [`TTL`] the cache is cleared.
const MAX_MARKS: usize = 100_000;
/// Separates the parts of a key; it cannot occur in pool ids, and a collision would only cost an
/// extra miss.
const SEP: char = '\u{1f}';

/// How a user was looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// By `username_key` (the username as matched in the pool).
    Username(&'a str),
    /// By an alias value of any kind.
    Alias(&'a str),
}

impl Lookup<'_> {
    fn entry_key(&self, pool_id: &str) -> String {
        match self {
            Lookup::Username(k) => format!("k{SEP}{pool_id}{SEP}{k}"),
            Lookup::Alias(v) => alias_mark(pool_id, v),
        }
    }
}

/// The mark a write leaves on a user (any change to it, including its deletion).
pub fn user_mark(pool_id: &str, user_id: &str) -> String {
    format!("u{SEP}{pool_id}{SEP}{user_id}")
}

/// The mark a write leaves on an alias value it claims: a lookup of that value may now find
/// another user than the one cached under it.
pub fn alias_mark(pool_id: &str, value: &str) -> String {
    format!("a{SEP}{pool_id}{SEP}{value}")
}

struct Entry {
    user: Arc<UserRecord>,
    /// The generation when the read began.
    read_generation: u64,
    /// When the read began.
    read_at: Instant,
    /// The marks that make this entry stale: its user's and, for alias lookups, the alias value's.
    user_mark: String,
    lookup_mark: Option<String>,
}

/// A user's MFA settings (or their absence) as read, kept beside the users under the user's
/// mark: GetUser shows them, and it is served without a database round trip.
struct MfaEntry {
    record: Option<Arc<UserMfaRecord>>,
    read_generation: u64,
    read_at: Instant,
}

pub struct UserCache {
    capacity: usize,
    entries: DashMap<String, Entry>,
    /// MFA settings by user mark (see [`user_mark`]); invalidated by the same marks as users.
    mfa: DashMap<String, MfaEntry>,
    generation: AtomicU64,
    /// Mark key -> (generation, when).
    marks: DashMap<String, (u64, Instant)>,
    /// Reads that began before this generation are stale (a full clear).
    floor: AtomicU64,
}

impl Default for UserCache {
    fn default() -> Self {
        UserCache::new(DEFAULT_CAPACITY)
    }
}

impl UserCache {
    /// A cache of at most `capacity` lookups; 0 disables it.
    pub fn new(capacity: usize) -> Self {
        UserCache {
            capacity,
            entries: DashMap::new(),
            mfa: DashMap::new(),
            generation: AtomicU64::new(0),
            marks: DashMap::new(),
            floor: AtomicU64::new(0),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Taken before a database read; pass it to [`UserCache::put_if_current`].
    pub fn begin_read(&self) -> ReadTicket {
        // The instant first: a mark set after this load has a later time than `read_at`.
        let read_at = Instant::now();
        ReadTicket {
            generation: self.generation.load(Ordering::Acquire),
            read_at,
        }
    }

    fn marked_since(&self, mark: &str, read_generation: u64) -> bool {
        self.marks.get(mark).is_some_and(|m| m.0 > read_generation)
    }

    /// Whether a read that began at `read_at` (generation `read_generation`) is still good for
    /// what `mark` names: not expired, not before a full clear, not marked since.
    fn fresh(&self, mark: &str, read_generation: u64, read_at: Instant) -> bool {
        read_at.elapsed() <= TTL
            && self.floor.load(Ordering::Acquire) <= read_generation
            && !self.marked_since(mark, read_generation)
    }

    fn is_current(&self, e: &Entry) -> bool {
        self.fresh(&e.user_mark, e.read_generation, e.read_at)
            && !e
                .lookup_mark
                .as_deref()
                .is_some_and(|m| self.marked_since(m, e.read_generation))
    }

    pub fn get(&self, pool_id: &str, lookup: Lookup<'_>) -> Option<UserRecord> {
        if self.capacity == 0 {
            return None;
        }
        let key = lookup.entry_key(pool_id);
        let e = self.entries.get(&key)?;
        if self.is_current(&e) {
            return Some(UserRecord::clone(&e.user));
        }
        drop(e);
        self.entries.remove(&key);
        None
    }

    /// Stores a user read from the database under the lookup that found it, unless something it
    /// depends on was invalidated since the read began.
    pub fn put_if_current(
        &self,
        pool_id: &str,
        lookup: Lookup<'_>,
        user: &UserRecord,
        ticket: ReadTicket,
    ) {
        if self.capacity == 0 {
            return;
        }
        let e = Entry {
            user: Arc::new(user.clone()),
            read_generation: ticket.generation,
            read_at: ticket.read_at,
            user_mark: user_mark(pool_id, &user.id),
            lookup_mark: match lookup {
                Lookup::Alias(v) => Some(alias_mark(pool_id, v)),
                Lookup::Username(_) => None,
            },
        };
        // Checked again on every get, so an invalidation between here and the insert is harmless.
        if !self.is_current(&e) {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.evict();
        }
        self.entries.insert(lookup.entry_key(pool_id), e);
    }

    /// A user's MFA settings as last read (`Some(None)`: read, and there are none), unless a
    /// write marked the user since.
    pub fn get_mfa(&self, pool_id: &str, user_id: &str) -> Option<Option<UserMfaRecord>> {
        if self.capacity == 0 {
            return None;
        }
        let mark = user_mark(pool_id, user_id);
        let e = self.mfa.get(&mark)?;
        if self.mfa_current(&mark, &e) {
            return Some(e.record.as_deref().cloned());
        }
        drop(e);
        self.mfa.remove(&mark);
        None
    }

    fn mfa_current(&self, mark: &str, e: &MfaEntry) -> bool {
        self.fresh(mark, e.read_generation, e.read_at)
    }

    /// Stores MFA settings read from the database, unless the user was marked since the read.
    pub fn put_mfa_if_current(
        &self,
        pool_id: &str,
        user_id: &str,
        record: Option<&UserMfaRecord>,
        ticket: ReadTicket,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mark = user_mark(pool_id, user_id);
        let e = MfaEntry {
            record: record.map(|r| Arc::new(r.clone())),
            read_generation: ticket.generation,
            read_at: ticket.read_at,
        };
        if !self.mfa_current(&mark, &e) {
            return;
        }
        if self.mfa.len() >= self.capacity {
            self.mfa.retain(|_, e| e.read_at.elapsed() <= TTL);
            if self.mfa.len() >= self.capacity {
                self.mfa.clear();
            }
        }
        self.mfa.insert(mark, e);
    }

    /// Drops about a tenth of the entries, expired ones first, so eviction costs O(1) amortised
    /// per insert. Which live entries go is arbitrary (every tenth in the map's hash order).
    fn evict(&self) {
        let mut i = 0usize;
        self.entries.retain(|_, e| {
            i += 1;
            e.read_at.elapsed() <= TTL && !i.is_multiple_of(10)
        });
        // A small cache may have lost nothing to the tenth.
        while self.entries.len() >= self.capacity {
            let Some(key) = self.entries.iter().next().map(|e| e.key().clone()) else {
                break;
            };
            self.entries.remove(&key);
        }
    }

    /// Records that a committed write changed what these marks name (see [`user_mark`] and
    /// [`alias_mark`]).
    pub fn invalidate<S: AsRef<str>>(&self, marks: &[S]) {
        if marks.is_empty() {
            return;
        }
        let g = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let now = Instant::now();
        if self.marks.len() + marks.len() > MAX_MARKS {
            self.marks.retain(|_, m| m.1.elapsed() <= TTL);
            if self.marks.len() + marks.len() > MAX_MARKS {
                // Too many recent writes to remember each: forget every entry and every read in flight.
                self.floor.store(g, Ordering::Release);
                self.entries.clear();
                self.mfa.clear();
                self.marks.clear();
            }
        }
        for m in marks {
            self.set_mark(m.as_ref(), g, now);
        }
    }

    /// Records generation `g` on `mark` unless a newer one is there already. Two writers can
    /// reach this in either order after taking their generations; letting the older overwrite
    /// the newer would make a read that began between the two look current for ever.
    fn set_mark(&self, mark: &str, g: u64, now: Instant) {
        self.marks
            .entry(mark.to_string())
            .and_modify(|m| {
                if m.0 < g {
                    *m = (g, now);
                }
            })
            .or_insert((g, now));
    }

    /// Forgets everything, including reads in flight (e.g. notifications may have been lost).
    pub fn clear(&self) {
        let g = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.floor.store(g, Ordering::Release);
        self.entries.clear();
        self.mfa.clear();
    }
}

/// The generation and instant at which a database read began.
#[derive(Clone, Copy, Debug)]
pub struct ReadTicket {
    generation: u64,
    read_at: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str, email: &str) -> UserRecord {
        UserRecord {
            pending_attributes: vec![],
            pool_id: "p1".into(),
            id: id.into(),
            username: name.into(),
            username_key: name.into(),
            status: "CONFIRMED".into(),
            enabled: true,
            created_ms: 0,
            modified_ms: 0,
            version: 1,
            password: None,
            attributes: vec![("sub".into(), id.into()), ("email".into(), email.into())],
        }
    }

    #[test]
    fn a_stored_user_is_served_until_its_user_is_invalidated() {
        let c = UserCache::new(10);
        let t = c.begin_read();
        c.put_if_current(
            "p1",
            Lookup::Username("ann"),
            &user("id-a", "ann", "a@x"),
            t,
        );
        assert_eq!(c.get("p1", Lookup::Username("ann")).unwrap().id, "id-a");
        assert!(c.get("p2", Lookup::Username("ann")).is_none());
        c.invalidate(&[user_mark("p1", "id-a")]);
        assert!(c.get("p1", Lookup::Username("ann")).is_none());
        assert!(c.is_empty(), "a stale entry is dropped when found");
    }

    #[test]
    fn marks_landing_out_of_order_keep_the_newest_generation() {
        // Two writers took generations 1 and 2; the second wrote its mark first. A read that
        // began between them (at generation 1) may have missed the second write's commit.
        let c = UserCache::new(10);
        let g1 = c.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let t = c.begin_read();
        let g2 = c.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let mark = user_mark("p1", "id-a");
        c.set_mark(&mark, g2, Instant::now());
        c.set_mark(&mark, g1, Instant::now());
        c.put_if_current(
            "p1",
            Lookup::Username("ann"),
            &user("id-a", "ann", "old"),
            t,
        );
        assert!(c.get("p1", Lookup::Username("ann")).is_none());
    }

    #[test]
    fn a_read_that_raced_its_users_invalidation_is_not_stored() {
        let c = UserCache::new(10);
        let t = c.begin_read();
        c.invalidate(&[user_mark("p1", "id-a")]);
        c.put_if_current(
            "p1",
            Lookup::Username("ann"),
            &user("id-a", "ann", "old"),
            t,
        );
        assert!(c.get("p1", Lookup::Username("ann")).is_none());
        // A read that began after the write is stored.
        let t = c.begin_read();
        c.put_if_current(
            "p1",
            Lookup::Username("ann"),
            &user("id-a", "ann", "new"),
            t,
        );
        assert_eq!(
            c.get("p1", Lookup::Username("ann")).unwrap().attributes[1].1,
            "new"
        );
    }

    #[test]
    fn an_invalidation_after_the_store_still_hides_a_value_read_before_it() {
        let c = UserCache::new(10);
        let t = c.begin_read();
        // The read saw the old row; the write commits and invalidates; only then is it stored.
        c.invalidate(&[user_mark("p1", "id-a")]);
        c.entries.insert(
            Lookup::Username("ann").entry_key("p1"),
            Entry {
                user: Arc::new(user("id-a", "ann", "old")),
                read_generation: t.generation,
                read_at: t.read_at,
                user_mark: user_mark("p1", "id-a"),
                lookup_mark: None,
            },
        );
        assert!(c.get("p1", Lookup::Username("ann")).is_none());
    }

    #[test]
    fn another_users_invalidation_does_not_block_caching() {
        let c = UserCache::new(10);
        let t = c.begin_read();
        c.invalidate(&[user_mark("p1", "id-b")]);
        c.put_if_current(
            "p1",
            Lookup::Username("ann"),
            &user("id-a", "ann", "a@x"),
            t,
        );
        assert!(c.get("p1", Lookup::Username("ann")).is_some());
    }

    #[test]
    fn an_alias_claimed_by_another_user_hides_the_old_holder() {
        let c = UserCache::new(10);
        let t = c.begin_read();
        c.put_if_current("p1", Lookup::Alias("a@x"), &user("id-a", "ann", "a@x"), t);
        assert_eq!(c.get("p1", Lookup::Alias("a@x")).unwrap().id, "id-a");
        // Ben's write claims the value (under another alias kind): only ben and the value are marked.
        c.invalidate(&[user_mark("p1", "id-b"), alias_mark("p1", "a@x")]);
        assert!(c.get("p1", Lookup::Alias("a@x")).is_none());
    }

    #[test]
    fn a_clear_blocks_reads_in_flight() {
        let c = UserCache::new(10);
        let t = c.begin_read();
        c.clear();
        c.put_if_current(
            "p1",
            Lookup::Username("ann"),
            &user("id-a", "ann", "a@x"),
            t,
        );
        assert!(c.get("p1", Lookup::Username("ann")).is_none());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let c = UserCache::new(100);
        for i in 0..1_000 {
            let t = c.begin_read();
            let name = format!("u{i}");
            c.put_if_current("p1", Lookup::Username(&name), &user(&name, &name, ""), t);
            assert!(c.len() <= 100, "{} entries", c.len());
        }
        // The newest entry is always kept.
        assert!(c.get("p1", Lookup::Username("u999")).is_some());
    }

    #[test]
    fn capacity_zero_disables_the_cache() {
        let c = UserCache::new(0);
        let t = c.begin_read();
        c.put_if_current(
            "p1",
            Lookup::Username("ann"),
            &user("id-a", "ann", "a@x"),
            t,
        );
        assert!(c.get("p1", Lookup::Username("ann")).is_none());
    }

    #[test]
    fn too_many_recent_marks_clear_the_cache_instead_of_forgetting_them() {
        let c = UserCache::new(10);
        let t = c.begin_read();
        c.put_if_current(
            "p1",
            Lookup::Username("ann"),
            &user("id-a", "ann", "a@x"),
            t,
        );
        let t_in_flight = c.begin_read();
        for i in 0..=MAX_MARKS {
            c.invalidate(&[user_mark("p1", &format!("other-{i}"))]);
        }
        assert!(c.marks.len() <= MAX_MARKS);
        // The clear forgot ann's entry and blocks a read that began before it.
        assert!(c.get("p1", Lookup::Username("ann")).is_none());
        c.put_if_current(
            "p1",
            Lookup::Username("ann"),
            &user("id-a", "ann", "a@x"),
            t_in_flight,
        );
        assert!(c.get("p1", Lookup::Username("ann")).is_none());
    }
}
