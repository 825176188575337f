//! Every account and role the SSO user can reach: ListAccounts, then ListAccountRoles for each
//! account, all pages (docs/sso-services.md). `list`, `configure generate` and `setup` build on
//! `fetch`.
//!
//! Large organisations have hundreds of accounts, so the per-account calls run on at most
//! `MAX_IN_FLIGHT` threads, each with its own `Http` (it is not `Sync`), behind one client-side
//! rate limiter (`RATE_PER_SEC`). Throttling (429), 5xx and broken connections are retried here,
//! by the HTTP client's rule and backoff, up to `MAX_TRIES` times per request; the client's own
//! retries are turned off so that every try passes the rate limiter, and a 429 also holds back
//! every other thread for the pause. A progress line goes to stderr once a listing takes longer
//! than a second (docs/refresh-and-locking.md).
//!
//! What the portal says is held to AWS's own limits and the listing is bounded
//! (docs/configure-generate.md#limits): an account name longer than AWS allows is shortened and an
//! e-mail address too long is left out, with one warning naming the account; more accounts, roles
//! per account, pages or bytes of text than the bounds below stop the listing with an error. So a
//! hostile or broken portal can neither fill the memory nor grow the config past what the reader
//! takes.

use crate::context::Context;
use crate::endpoints::{Endpoint, Service};
use crate::error::Error;
use crate::http::{CallError, Http, HttpSettings};
use crate::portal::{Account, Page, Portal};
use crate::secret::Secret;
use crate::session::{self, Outcome};
use crate::target::SessionTarget;
use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Requests in flight at most (ListAccountRoles runs on this many threads).
pub const MAX_IN_FLIGHT: usize = 10;
/// Requests started per second at most, over all threads.
pub const RATE_PER_SEC: u32 = 20;
/// Tries per request when throttled or failing transiently.
pub const MAX_TRIES: u32 = 8;
/// `max_result` sent with each page (the API's maximum).
const PAGE_SIZE: u32 = 100;
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(4);
/// The progress line appears once a listing has run this long.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

/// Accounts in one listing at most: five times the 10,000 that AWS Organizations grants on request.
pub const MAX_ACCOUNTS: usize = 50_000;
/// Roles of one account at most: IAM Identity Center's quota of permission sets per instance
/// (2,000), where one account may be given 50 by default.
pub const MAX_ROLES_PER_ACCOUNT: usize = 2_000;
/// Pages of one list (ListAccounts, or ListAccountRoles of one account) at most; 1,000 pages of
/// 100 are twice `MAX_ACCOUNTS`.
pub const MAX_PAGES: usize = 1_000;
/// Text a listing keeps at most, in bytes, counting 24 bytes of bookkeeping per string: a real
/// organisation of 10,000 accounts with 10 roles each keeps about 6 MiB.
pub const MAX_LISTING_BYTES: usize = 64 << 20;
/// AWS's own limits (docs/configure-generate.md#the-shape-of-what-the-portal-lists): characters of an
/// account name, an e-mail address and a role name; digits of an account ID.
pub const ACCOUNT_NAME_MAX: usize = 50;
pub const EMAIL_MAX: usize = 64;
pub const ROLE_NAME_MAX: usize = 64;
pub const ACCOUNT_ID_LEN: usize = 12;
/// An ID or role name longer than AWS allows is kept only to this many characters (and `…`): it is
/// skipped later with a warning that shows this much.
const KEEP_INVALID: usize = 64;
/// Warnings about shortened accounts shown at most; a last one counts the rest.
const MAX_NOTES: usize = 20;

/// An account and the roles the user has in it (sorted).
#[derive(Debug, Clone)]

pub struct AccountRoles {
    pub account: Account,
    pub roles: Vec<String>,
}

/// Every account with its roles, sorted by account name (then ID). Uses (and when due, refreshes)
/// the session's cached token; a portal 401 replaces the token once, as credential_process does.
pub fn fetch(ctx: &Context, target: &SessionTarget) -> Result<Vec<AccountRoles>, Error> {
    let endpoint = target.endpoint(Service::Portal)?;
    // Our own retries (below) replace the client's, so that every try is rate limited. A listing
    // may take minutes: the per-request timeouts apply, not credential_process's run deadline.
    let settings = HttpSettings { max_tries: 1, deadline: None, ..ctx.http_settings() };
    let shared = Shared::new();
    let started = Instant::now();
    let too_large = |what: String| Error::Other {
        what: format!("the SSO portal's listing for the SSO session {} is too large: {what}", target.label),
        hint: Some(
            "the bounds (docs/configure-generate.md#limits) are far above any real organisation: check \
             that the portal endpoint is AWS's (AWS_ENDPOINT_URL_SSO, the profile's endpoint_url)"
                .into(),
        ),
    };
    let result = std::thread::scope(|scope| {
        let progress = ctx.show_progress().then(|| scope.spawn(|| shared.progress()));
        let result = (|| {
            let http = Http::new(settings.clone());
            let portal = Portal { http: &http, endpoint: endpoint.clone() };
            let (accounts, token) =
                session::with_token(ctx, target, |token| match list_accounts(&portal, token, &shared) {
                    Ok(accounts) => Ok(Ok(accounts)),
                    Err(Stop::Call(e)) => Err(e),
                    Err(Stop::Bound(what)) => Ok(Err(what)),
                })?;
            let accounts = accounts.map_err(too_large)?;
            if let Outcome::RefreshFailed(why) = &token.outcome {
                ctx.warn(format!(
                    "could not refresh the SSO token of {} ({why}); using the cached token while it lasts",
                    target.label
                ));
            }
            let token = token.access_token;
            let roles = list_roles(&settings, &endpoint, &token, &accounts, &shared).map_err(|e| match e {
                Stop::Call(e) => call_failed(target, e),
                Stop::Bound(what) => too_large(what),
            })?;
            Ok::<_, Error>(accounts.into_iter().zip(roles).map(|(account, roles)| AccountRoles { account, roles }))
        })();
        shared.done.store(true, Ordering::SeqCst);
        if let Some(handle) = progress {
            let _ = handle.join();
        }
        result
    });
    let notes = std::mem::take(&mut *shared.notes.lock().unwrap_or_else(|p| p.into_inner()));
    let noted = shared.noted.load(Ordering::SeqCst);
    for note in notes {
        ctx.warn(note);
    }
    if noted > MAX_NOTES {
        ctx.warn(format!("{} more accounts had a name or e-mail address longer than AWS allows", noted - MAX_NOTES));
    }
    let mut accounts: Vec<AccountRoles> = result?.collect();
    ctx.debug(|| {
        format!(
            "listed {} accounts with {} requests ({} throttled) in {} ms",
            accounts.len(),
            shared.requests.load(Ordering::SeqCst),
            shared.throttled.load(Ordering::SeqCst),
            started.elapsed().as_millis()
        )
    });
    for a in &mut accounts {
        a.roles.sort();
        a.roles.dedup();
    }
    accounts.sort_by(|a, b| {
        let key = |x: &AccountRoles| (x.account.account_name.to_lowercase(), x.account.account_id.clone());
        key(a).cmp(&key(b))
    });
    Ok(accounts)
}

/// A portal 401 that survived the token replacement means a new login; anything else as it is.
fn call_failed(target: &SessionTarget, e: CallError) -> Error {
    match e {
        CallError::Service(e) if e.status == 401 => Error::LoginRequired {
            what: format!("the SSO portal rejected the access token of {}", target.label),
            login_args: target.login_args.clone(),
            cause: Some(Box::new(e.into())),
        },
        e => e.into(),
    }
}

/// What the threads share: the rate limiter, counters for the progress line, and the stop flags.
struct Shared {
    /// When the next request may start.
    next_slot: Mutex<Instant>,
    interval: Duration,
    requests: AtomicUsize,
    throttled: AtomicUsize,
    accounts_found: AtomicUsize,
    /// Accounts whose roles are listed, and how many there are (0 while ListAccounts runs).
    accounts_done: AtomicUsize,
    accounts_total: AtomicUsize,
    failed: AtomicBool,
    done: AtomicBool,
    /// Bytes of text kept so far (see `MAX_LISTING_BYTES`).
    bytes: AtomicUsize,
    /// Warnings about shortened accounts (the first `MAX_NOTES`), and how many there were.
    notes: Mutex<Vec<String>>,
    noted: AtomicUsize,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            next_slot: Mutex::new(Instant::now()),
            interval: Duration::from_secs(1) / RATE_PER_SEC,
            requests: AtomicUsize::new(0),
            throttled: AtomicUsize::new(0),
            accounts_found: AtomicUsize::new(0),
            accounts_done: AtomicUsize::new(0),
            accounts_total: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            done: AtomicBool::new(false),
            bytes: AtomicUsize::new(0),
            notes: Mutex::new(Vec::new()),
            noted: AtomicUsize::new(0),
        }
    }

    /// Counts `bytes` more of kept text; past `MAX_LISTING_BYTES` the listing stops.
    fn charge(&self, bytes: usize) -> Result<(), Stop> {
        let total = self.bytes.fetch_add(bytes, Ordering::SeqCst).saturating_add(bytes);
        match total > MAX_LISTING_BYTES {
            true => Err(Stop::Bound(format!("its names hold more than {} MiB of text", MAX_LISTING_BYTES >> 20))),
            false => Ok(()),
        }
    }

    fn note(&self, note: String) {
        if self.noted.fetch_add(1, Ordering::SeqCst) < MAX_NOTES {
            self.notes.lock().unwrap_or_else(|p| p.into_inner()).push(note);
        }
    }

    /// Waits for this thread's turn: requests start at least `interval` apart.
    fn wait_turn(&self) {
        let slot = {
            let mut next = self.next_slot.lock().unwrap_or_else(|p| p.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        std::thread::sleep(slot.saturating_duration_since(Instant::now()));
    }

    /// After a 429: no request starts before `pause` from now, on any thread.
    fn hold(&self, pause: Duration) {
        let mut next = self.next_slot.lock().unwrap_or_else(|p| p.into_inner());
        *next = (*next).max(Instant::now() + pause);
    }

    /// `call`, retried on throttling, 5xx and broken connections with jittered backoff.
    fn with_retry<T>(&self, mut call: impl FnMut() -> Result<T, CallError>) -> Result<T, CallError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_turn();
            self.requests.fetch_add(1, Ordering::SeqCst);
            let result = call();
            let throttled = matches!(&result, Err(CallError::Service(e)) if e.status == 429);
            let retryable = result.as_ref().err().is_some_and(crate::http::call_worth_another_try);
            if !retryable || attempt >= MAX_TRIES || self.failed.load(Ordering::SeqCst) {
                return result;
            }
            let pause = backoff(attempt);
            if throttled {
                self.throttled.fetch_add(1, Ordering::SeqCst);
                self.hold(pause);
            }
            std::thread::sleep(pause);
        }
    }

    /// The progress line on stderr, from the first second on; rewritten in place with `\r` and
    /// wiped at the end.
    fn progress(&self) {
        let started = Instant::now();
        let mut shown: usize = 0;
        let mut stderr = std::io::stderr();
        while !self.done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
            if started.elapsed() < PROGRESS_AFTER || self.done.load(Ordering::SeqCst) {
                continue;
            }
            let total = self.accounts_total.load(Ordering::SeqCst);
            let mut line = if total == 0 {
                format!("aws-sso-process: listing accounts: {} found", self.accounts_found.load(Ordering::SeqCst))
            } else {
                format!(
                    "aws-sso-process: listing roles: {}/{total} accounts",
                    self.accounts_done.load(Ordering::SeqCst)
                )
            };
            match self.throttled.load(Ordering::SeqCst) {
                0 => {}
                n => line.push_str(&format!(" ({n} throttled, backing off)")),
            }
            let len = line.chars().count();
            let pad = shown.saturating_sub(len);
            let _ = write!(stderr, "\r{line}{}", " ".repeat(pad));
            let _ = stderr.flush();
            shown = len;
        }
        if shown > 0 {
            let _ = write!(stderr, "\r{}\r", " ".repeat(shown));
            let _ = stderr.flush();
        }
    }
}

/// The pause before try `attempt + 1` (the HTTP client's backoff, with list's own steps).
fn backoff(attempt: u32) -> Duration {
    crate::http::Backoff { base: BACKOFF_BASE, cap: BACKOFF_CAP }.pause(attempt)
}

/// Why a listing stopped: a call failed, or the portal listed more than the bounds allow.
enum Stop {
    Call(CallError),
    Bound(String),
}

impl From<CallError> for Stop {
    fn from(e: CallError) -> Stop {
        Stop::Call(e)
    }
}

/// `s` cut to at most `max` characters (on a character boundary), the last one `…` when it was
/// cut. Whether it was cut. Only the first `max + 1` characters are looked at.
pub fn shorten(s: &mut String, max: usize) -> bool {
    if max == 0 || s.char_indices().nth(max).is_none() {
        return false;
    }
    let cut = s.char_indices().nth(max - 1).map_or(0, |(i, _)| i);
    s.truncate(cut);
    s.push('…');
    true
}

/// The bytes a kept string costs (its text and its bookkeeping).
fn cost(s: &str) -> usize {
    s.len() + std::mem::size_of::<String>()
}

/// An account held to AWS's limits: a name over `ACCOUNT_NAME_MAX` characters shortened, an e-mail
/// address over `EMAIL_MAX` left out (the warning, one per account, says which), an ID longer than
/// `KEEP_INVALID` cut (it is not 12 digits, so `configure generate` skips it with its own warning).
fn limit_account(a: &mut Account) -> Option<String> {
    let mut what = Vec::new();
    shorten(&mut a.account_id, KEEP_INVALID);
    if shorten(&mut a.account_name, ACCOUNT_NAME_MAX) {
        what.push(format!("its name is longer than the {ACCOUNT_NAME_MAX} characters AWS allows; shortened"));
    }
    if a.email_address.as_ref().is_some_and(|e| e.chars().nth(EMAIL_MAX).is_some()) {
        a.email_address = None;
        what.push(format!("its e-mail address is longer than the {EMAIL_MAX} characters AWS allows; left out"));
    }
    (!what.is_empty()).then(|| format!("account {} ({}): {}", a.account_id, a.account_name, what.join("; ")))
}

/// Every page of a list operation, each item passed through `keep` (which shortens it and returns
/// the bytes it keeps). A nextToken seen before would loop for ever: that is an error; so are more
/// than `MAX_PAGES` pages, more than `max_items` items and more than `MAX_LISTING_BYTES` in all.
/// Tokens are remembered by their hash, so a portal's huge tokens cost no memory.
fn all_pages<T>(
    portal: &Portal,
    op: &'static str,
    (max_items, noun): (usize, &str),
    shared: &Shared,
    mut keep: impl FnMut(&mut T) -> usize,
    mut page: impl FnMut(Option<&str>) -> Result<Page<T>, CallError>,
) -> Result<Vec<T>, Stop> {
    use std::hash::BuildHasher;
    let hasher = std::collections::hash_map::RandomState::new();
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    let mut seen = HashSet::new();
    let mut pages = 0;
    loop {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(Stop::Bound(format!("{op} gave more than {MAX_PAGES} pages")));
        }
        let mut p = page(next.as_deref())?;
        if items.len().saturating_add(p.items.len()) > max_items {
            return Err(Stop::Bound(format!("{op} listed more than {max_items} {noun}")));
        }
        let bytes: usize = p.items.iter_mut().map(&mut keep).sum();
        shared.charge(bytes)?;
        items.extend(p.items);
        match p.next_token {
            None => return Ok(items),
            Some(token) if !seen.insert(hasher.hash_one(&token)) => {
                return Err(
                    CallError::malformed(op, &portal.endpoint, "the same nextToken came back twice".into()).into()
                );
            }
            Some(token) => next = Some(token),
        }
    }
}

fn list_accounts(portal: &Portal, token: &Secret, shared: &Shared) -> Result<Vec<Account>, Stop> {
    let mut ids = HashSet::new();
    let keep = |a: &mut Account| {
        if let Some(note) = limit_account(a) {
            shared.note(note);
        }
        cost(&a.account_id) + cost(&a.account_name) + a.email_address.as_deref().map_or(0, cost)
    };
    let accounts = all_pages(portal, "ListAccounts", (MAX_ACCOUNTS, "accounts"), shared, keep, |next| {
        let page = shared.with_retry(|| portal.list_accounts(token, next, PAGE_SIZE))?;
        shared.accounts_found.fetch_add(page.items.len(), Ordering::SeqCst);
        Ok(page)
    })?;
    // An account listed twice (pages shifting under us) is shown once.
    Ok(accounts.into_iter().filter(|a| ids.insert(a.account_id.clone())).collect())
}

/// The roles of each account, in the order of `accounts`, on at most `MAX_IN_FLIGHT` threads.
/// The first failure stops the other threads and is returned.
fn list_roles(
    settings: &HttpSettings,
    endpoint: &Endpoint,
    token: &Secret,
    accounts: &[Account],
    shared: &Shared,
) -> Result<Vec<Vec<String>>, Stop> {
    shared.accounts_total.store(accounts.len(), Ordering::SeqCst);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Vec<String>>> = Mutex::new(vec![Vec::new(); accounts.len()]);
    let first_error: Mutex<Option<Stop>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..MAX_IN_FLIGHT.min(accounts.len()) {
            scope.spawn(|| {
                let http = Http::new(settings.clone());
                let portal = Portal { http: &http, endpoint: endpoint.clone() };
                while !shared.failed.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(account) = accounts.get(i) else { break };
                    // A role name longer than IAM allows is kept to one character more (and `…`):
                    // enough to tell, and `configure generate` skips it with a warning.
                    let keep = |role: &mut String| {
                        shorten(role, ROLE_NAME_MAX + 1);
                        cost(role)
                    };
                    let noun = format!("roles for account {}", account.account_id);
                    let bound = (MAX_ROLES_PER_ACCOUNT, noun.as_str());
                    let roles = all_pages(&portal, "ListAccountRoles", bound, shared, keep, |next| {
                        shared.with_retry(|| portal.list_account_roles(token, &account.account_id, next, PAGE_SIZE))
                    });
                    match roles {
                        Ok(roles) => {
                            if let Some(slot) = results.lock().unwrap_or_else(|p| p.into_inner()).get_mut(i) {
                                *slot = roles;
                            }
                            shared.accounts_done.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => {
                            shared.failed.store(true, Ordering::SeqCst);
                            first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(results.into_inner().unwrap_or_else(|p| p.into_inner())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_stays_jittered_and_capped() {
        for attempt in 1..20 {
            let b = backoff(attempt);
            let ceiling = BACKOFF_BASE.saturating_mul(1 << (attempt - 1).min(10)).min(BACKOFF_CAP);
            assert!(b <= ceiling && b >= ceiling / 2, "{attempt}: {b:?}");
        }
    }

    #[test]
    fn shorten_cuts_on_a_character_boundary_and_marks_the_cut() {
        let mut s = "é".repeat(100);
        assert!(shorten(&mut s, 50));
        assert_eq!(s.chars().count(), 50);
        assert!(s.ends_with("é…"));
        let mut s = "a".repeat(50);
        assert!(!shorten(&mut s, 50), "50 characters stay");
        let mut s = "🦀".repeat(51);
        assert!(shorten(&mut s, 50));
        assert_eq!(s, format!("{}…", "🦀".repeat(49)));
    }

    #[test]
    fn accounts_are_held_to_aws_limits_with_one_note_each() {
        let mut a = Account {
            account_id: "1".repeat(10_000),
            account_name: format!("Team\u{202e}{}", "ü".repeat(900_000)),
            email_address: Some(format!("{}@example.com", "x".repeat(60))),
        };
        let note = limit_account(&mut a).unwrap_or_default();
        assert_eq!(a.account_name.chars().count(), ACCOUNT_NAME_MAX);
        assert_eq!(a.account_id.chars().count(), KEEP_INVALID);
        assert_eq!(a.email_address, None);
        assert!(note.contains("its name is longer than the 50 characters AWS allows; shortened"), "{note}");
        assert!(note.contains("e-mail address is longer than the 64 characters AWS allows; left out"), "{note}");
        assert!(note.len() < 400, "{note}");
        let mut fine = Account {
            account_id: "111122223333".into(),
            account_name: "n".repeat(50),
            email_address: Some(format!("{}@x.io", "x".repeat(59))),
        };
        assert_eq!(limit_account(&mut fine), None);
        assert_eq!(fine.account_name.len(), 50);
        assert!(fine.email_address.is_some());
    }

    #[test]
    fn the_listing_budget_stops_past_its_bytes() {
        let shared = Shared::new();
        assert!(shared.charge(MAX_LISTING_BYTES).is_ok());
        assert!(matches!(shared.charge(1), Err(Stop::Bound(why)) if why.contains("64 MiB")));
    }

    #[test]
    fn the_rate_limiter_spaces_requests() {
        let shared = Shared::new();
        let start = Instant::now();
        for _ in 0..5 {
            shared.wait_turn();
        }
        // The first starts at once, the fifth 4 intervals later.
        assert!(start.elapsed() >= shared.interval * 4, "{:?}", start.elapsed());
        shared.hold(Duration::from_millis(300));
        let before = Instant::now();
        shared.wait_turn();
        assert!(before.elapsed() >= Duration::from_millis(250), "{:?}", before.elapsed());
    }
}
