//! The client registration the AWS CLI shares (docs/shared-cache.md, docs/login.md): which cache
//! file may hold ours, when a cached one fits, and RegisterClient when none does. A new registration
//! is cached only once the login succeeds.

use super::*;

pub struct Registration {
    pub client_id: String,
    pub client_secret: Secret,
    pub expires_at: DateTime<Utc>,
    /// The cache file a reused registration was read from.
    pub cached_in: Option<PathBuf>,
    /// A new registration's cache file and content, written only after a successful login.
    pending: Option<(PathBuf, Value)>,
    /// The client ID of a registration the service refused, which the new one replaces: the file
    /// is written only while it still holds that one (or nothing usable).
    replacing: Option<String>,
}

/// No secret: neither the client secret nor the pending file's content (which holds it).
impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("client_id", &self.client_id)
            .field("expires_at", &self.expires_at)
            .field("cached_in", &self.cached_in)
            .field("pending", &self.pending.as_ref().map(|(path, _)| path))
            .finish_non_exhaustive()
    }
}

/// The scopes we register with: the session's `sso_registration_scopes`, else `sso:account:access`
/// (so the session gets a refresh token; docs/shared-cache.md). Legacy sessions register without scopes, as the CLI does.
pub fn wanted_scopes(target: &SessionTarget) -> Vec<String> {
    let s = &target.session;
    if s.name.is_none() {
        Vec::new()
    } else if s.scopes.is_empty() {
        DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        s.scopes.clone()
    }
}

/// The registration cache files a registration of ours for `flow` may live in, best first. Each
/// is a key the AWS CLI computes for a configuration under which it would store just such a
/// registration, so the key describes what is under it (docs/login.md):
/// - configured scopes: their key, for both flows (the CLI's flows share it and replace each other);
/// - legacy sessions: the key without scopes (no scopes are registered, as the CLI does);
/// - no scopes configured, PKCE: the key without scopes, where the CLI keeps its PKCE registration
///   (also made with `sso:account:access`), else the key for `sso:account:access`;
/// - no scopes configured, device code: only the key for `sso:account:access`. The CLI's device
///   registration under the key without scopes has no scopes (so no refresh token) and is not ours to
///   use or to replace.
fn registration_paths(target: &SessionTarget, flow: Flow) -> Vec<PathBuf> {
    let s = &target.session;
    let default: Vec<String> = DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect();
    let keys: Vec<Option<&[String]>> = if s.name.is_none() {
        vec![None]
    } else if !s.scopes.is_empty() {
        vec![Some(&s.scopes)]
    } else if flow == Flow::Pkce {
        vec![None, Some(&default)]
    } else {
        vec![Some(&default)]
    };
    keys.into_iter()
        .map(|scopes| {
            let key = cache::registration_key(&s.start_url, &s.region, scopes, s.name.as_deref());
            target.registration_dir.join(format!("{key}.json"))
        })
        .collect()
}

pub(super) fn registration(
    ctx: &Context,
    oidc: &Oidc,
    target: &SessionTarget,
    flow: Flow,
    issuer_url: &str,
    refused: Option<&str>,
) -> Result<Registration, Error> {
    let paths = registration_paths(target, flow);
    let scopes = wanted_scopes(target);
    // Where a new registration goes: the first file that holds nothing live of the other flow,
    // else the last one (with no scopes configured, the one that is not the CLI's own key).
    let mut write_to = None;
    for path in &paths {
        match cache::read_object(path) {
            Ok(Some(doc)) => match fit(&doc, flow, &scopes, ctx.now()) {
                Ok(reg) if refused == Some(reg.client_id.as_str()) => {
                    ctx.debug(|| {
                        format!("not reusing the client registration {}: the service refused it", path.display())
                    });
                    write_to.get_or_insert(path);
                }
                Ok(mut reg) => {
                    ctx.debug(|| format!("reusing the client registration {}", path.display()));
                    reg.cached_in = Some(path.clone());
                    return Ok(reg);
                }
                Err(unfit) => {
                    ctx.debug(|| format!("not reusing the client registration {}: it {}", path.display(), unfit.why));
                    if !unfit.live_other_flow && write_to.is_none() {
                        write_to = Some(path);
                    }
                }
            },
            Ok(None) => {
                ctx.debug(|| format!("no client registration in {}", path.display()));
                write_to.get_or_insert(path);
            }
            Err(e) => {
                ctx.debug(|| format!("not reusing a client registration: {}", crate::error::chain(&e)));
                write_to.get_or_insert(path);
            }
        }
    }
    let write_to = write_to.or(paths.last()).cloned().unwrap_or_default();

    let client_name = match &target.session.name {
        Some(name) => format!("botocore-client-{name}"),
        None => format!("botocore-client-{}", ctx.now().timestamp()),
    };
    let mut body = Map::new();
    body.insert("clientName".into(), client_name.into());
    body.insert("clientType".into(), "public".into());
    if !scopes.is_empty() {
        body.insert("scopes".into(), scopes.clone().into());
    }
    if flow == Flow::Pkce {
        body.insert("grantTypes".into(), json!(PKCE_GRANTS));
        body.insert("redirectUris".into(), json!([REGISTERED_REDIRECT_URI]));
        body.insert("issuerUrl".into(), issuer_url.into());
    }
    let resp = oidc
        .register_client(&Value::Object(body))
        .map_err(|e| failed(format!("cannot register a client for {}", target.label), e))?;
    let expires_at = timefmt::from_epoch_secs(resp.client_secret_expires_at).ok_or_else(|| Error::Other {
        what: "RegisterClient returned a clientSecretExpiresAt out of range".into(),
        hint: None,
    })?;
    let mut doc = Map::new();
    doc.insert("clientId".into(), resp.client_id.clone().into());
    doc.insert("clientSecret".into(), resp.client_secret.expose().into());
    doc.insert("expiresAt".into(), timefmt::format(expires_at).into());
    if !scopes.is_empty() {
        doc.insert("scopes".into(), scopes.into());
    }
    if flow == Flow::Pkce {
        doc.insert("grantTypes".into(), json!(PKCE_GRANTS));
    }
    // Written once the login succeeds: an interrupted or failed login leaves the cache as it was.
    let pending = Some((write_to, Value::Object(doc)));
    Ok(Registration {
        client_id: resp.client_id,
        client_secret: resp.client_secret,
        expires_at,
        cached_in: None,
        pending,
        replacing: refused.map(str::to_owned),
    })
}

/// How long saving a registration waits for another process that holds its file's lock.
const SAVE_LOCK_WAIT: Duration = Duration::from_secs(5);

/// Caches a registration made during this login (after the token was written), under the lock of
/// its file. One that replaces a refused registration is written only while the file still holds
/// the refused one (or nothing usable): another tool may have put a working one there meanwhile,
/// and the file may be the AWS CLI's (docs/login.md).
pub(super) fn save_registration(ctx: &Context, reg: &Registration) {
    let Some((path, doc)) = &reg.pending else { return };
    let _guard = match LockGuard::acquire(path, SAVE_LOCK_WAIT) {
        Ok(guard) => guard,
        Err(e) => {
            ctx.warn(format!("the client registration was not cached: {}", crate::error::chain(&Error::from(e))));
            return;
        }
    };
    if let Some(refused) = &reg.replacing
        && let Ok(Some(now)) = cache::read_object(path)
        && let Ok(Some(id)) = cache::str_field(&now, "clientId")
        && !id.is_empty()
        && id != refused
    {
        ctx.debug(|| format!("kept the client registration {}: another process replaced it meanwhile", path.display()));
        return;
    }
    match cache::write_atomic(path, doc) {
        Ok(()) => ctx.debug(|| format!("cached the client registration in {}", path.display())),
        Err(e) => ctx.warn(format!("the client registration could not be cached: {}", crate::error::chain(&e))),
    }
}

/// Why a cached registration does not fit, never quoting a value; `live_other_flow` when it is a
/// valid registration of the other flow (someone's working registration, not to be replaced lightly).
#[derive(Debug)]
struct Unfit {
    why: String,
    live_other_flow: bool,
}

impl From<String> for Unfit {
    fn from(why: String) -> Unfit {
        Unfit { why, live_other_flow: false }
    }
}

impl From<&str> for Unfit {
    fn from(why: &str) -> Unfit {
        why.to_owned().into()
    }
}

/// A cached registration fit for `flow` and `scopes`, or why not.
fn fit(doc: &Map<String, Value>, flow: Flow, scopes: &[String], now: DateTime<Utc>) -> Result<Registration, Unfit> {
    let client_id = cache::str_field(doc, "clientId")?.filter(|s| !s.is_empty()).ok_or("has no clientId")?;
    let secret = cache::str_field(doc, "clientSecret")?.filter(|s| !s.is_empty()).ok_or("has no clientSecret")?;
    let expires_at = cache::str_field(doc, "expiresAt")?.and_then(timefmt::parse).ok_or("has no usable expiresAt")?;
    if expires_at - now < REGISTRATION_MIN_LEFT {
        return Err(format!("expires at {}", timefmt::format(expires_at)).into());
    }
    let list = |key: &str| -> Vec<&str> {
        doc.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
    };
    let auth_code = list("grantTypes").contains(&"authorization_code");
    let other_flow = |why: &str| Unfit { why: why.to_owned(), live_other_flow: true };
    match flow {
        Flow::Pkce if !auth_code => return Err(other_flow("is not registered for the authorization code grant")),
        Flow::Device if auth_code => return Err(other_flow("is registered for the authorization code grant")),
        _ => {}
    }
    let have = list("scopes");
    if let Some(missing) = scopes.iter().find(|s| !have.contains(&s.as_str())) {
        return Err(format!("lacks the scope {missing}").into());
    }
    Ok(Registration {
        client_id: client_id.to_owned(),
        client_secret: Secret::new(secret),
        expires_at,
        cached_in: None,
        pending: None,
        replacing: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Map<String, Value> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn registration_debug_shows_no_secret() {
        let reg = Registration {
            client_id: "cid".into(),
            client_secret: Secret::new("SECRET-ONE"),
            expires_at: Utc::now(),
            cached_in: None,
            pending: Some((PathBuf::from("/x.json"), json!({"clientSecret": "SECRET-ONE"}))),
            replacing: None,
        };
        let shown = format!("{reg:?}");
        assert!(shown.contains("cid") && shown.contains("/x.json") && !shown.contains("SECRET-ONE"), "{shown}");
    }

    #[test]
    fn registration_reuse_rules() {
        let now = timefmt::parse("2026-11-21T08:00:00Z").unwrap();
        let scopes = vec!["sso:account:access".to_owned()];
        let pkce = r#"{"clientId":"c","clientSecret":"s","expiresAt":"2027-02-19T07:00:00Z","scopes":["sso:account:access"],"grantTypes":["authorization_code","refresh_token"]}"#;
        let device = r#"{"clientId":"c","clientSecret":"s","expiresAt":"2027-02-19T07:00:00UTC","scopes":["sso:account:access"]}"#;
        assert!(fit(&doc(pkce), Flow::Pkce, &scopes, now).is_ok());
        let other = fit(&doc(pkce), Flow::Device, &scopes, now).unwrap_err();
        assert!(other.why.contains("authorization code") && other.live_other_flow, "{other:?}");
        assert!(fit(&doc(device), Flow::Device, &scopes, now).is_ok(), "old UTC suffix is read");
        assert!(fit(&doc(device), Flow::Pkce, &scopes, now).unwrap_err().live_other_flow);
        assert!(fit(&doc(device), Flow::Device, &[], now).is_ok());
        let unscoped = r#"{"clientId":"c","clientSecret":"s","expiresAt":"2027-02-19T07:00:00Z"}"#;
        let lacking = fit(&doc(unscoped), Flow::Device, &scopes, now).unwrap_err();
        assert!(lacking.why.contains("scope") && !lacking.live_other_flow, "{lacking:?}");
        // 15 minutes left is enough; 14 is not, and then it is not live either.
        let at = |t: &str| doc(&device.replace("2027-02-19T07:00:00UTC", t));
        assert!(fit(&at("2026-11-21T08:15:00Z"), Flow::Device, &scopes, now).is_ok());
        let stale = fit(&at("2026-11-21T08:14:59Z"), Flow::Pkce, &scopes, now).unwrap_err();
        assert!(stale.why.contains("expires") && !stale.live_other_flow, "{stale:?}");
        let err = fit(&doc(r#"{"clientId":"c","clientSecret":7}"#), Flow::Device, &scopes, now).unwrap_err();
        assert!(err.why.contains("clientSecret is a number"), "{err:?}");
    }
}
