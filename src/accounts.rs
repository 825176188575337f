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
    let result = std::thread::scope(|scope| {
        let progress = ctx.show_progress().then(|| scope.spawn(|| shared.progress()));
        let result = (|| {
            let http = Http::new(settings.clone());
            let portal = Portal { http: &http, endpoint: endpoint.clone() };
            let (accounts, token) = session::with_token(ctx, target, |token| list_accounts(&portal, token, &shared))?;
            if let Outcome::RefreshFailed(why) = &token.outcome {
                ctx.warn(format!(
                    "could not refresh the SSO token of {} ({why}); using the cached token while it lasts",
                    target.label
                ));
            }
            let token = token.access_token;
            let roles =
                list_roles(&settings, &endpoint, &token, &accounts, &shared).map_err(|e| call_failed(target, e))?;
            Ok::<_, Error>(accounts.into_iter().zip(roles).map(|(account, roles)| AccountRoles { account, roles }))
        })();
        shared.done.store(true, Ordering::SeqCst);
        if let Some(handle) = progress {
            let _ = handle.join();
        }
        result
    });
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

/// Every page of a list operation. A nextToken seen before would loop for ever: that is an error.
fn all_pages<T>(
    portal: &Portal,
    op: &'static str,
    mut page: impl FnMut(Option<&str>) -> Result<Page<T>, CallError>,
) -> Result<Vec<T>, CallError> {
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    let mut seen = HashSet::new();
    loop {
        let p = page(next.as_deref())?;
        items.extend(p.items);
        match p.next_token {
            None => return Ok(items),
            Some(token) if !seen.insert(token.clone()) => {
                return Err(CallError::malformed(op, &portal.endpoint, "the same nextToken came back twice".into()));
            }
            Some(token) => next = Some(token),
        }
    }
}

fn list_accounts(portal: &Portal, token: &Secret, shared: &Shared) -> Result<Vec<Account>, CallError> {
    let mut ids = HashSet::new();
    let accounts = all_pages(portal, "ListAccounts", |next| {
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
) -> Result<Vec<Vec<String>>, CallError> {
    shared.accounts_total.store(accounts.len(), Ordering::SeqCst);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Vec<String>>> = Mutex::new(vec![Vec::new(); accounts.len()]);
    let first_error: Mutex<Option<CallError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..MAX_IN_FLIGHT.min(accounts.len()) {
            scope.spawn(|| {
                let http = Http::new(settings.clone());
                let portal = Portal { http: &http, endpoint: endpoint.clone() };
                while !shared.failed.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(account) = accounts.get(i) else { break };
                    let roles = all_pages(&portal, "ListAccountRoles", |next| {
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
