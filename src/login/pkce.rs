//! Authorization code with PKCE (docs/login-flows.md): the `/authorize` URL, the one-shot callback
//! listener on 127.0.0.1, and the verifier, challenge and state.

use super::*;
use crate::loopback::{self, Limits, Listener};
use crate::url::{decode_component, encode_component};

pub(super) fn bind_listener(port: Option<u16>) -> Result<TcpListener, Error> {
    TcpListener::bind(("127.0.0.1", port.unwrap_or(0))).map_err(|e| Error::Other {
        what: match port {
            Some(p) => format!("cannot listen on 127.0.0.1:{p} for the browser redirect: {e}"),
            None => format!("cannot listen on 127.0.0.1 for the browser redirect: {e}"),
        },
        hint: Some("pick another --redirect-port, or use --use-device-code".into()),
    })
}

pub(super) fn pkce_flow(
    ctx: &Context,
    oidc: &Oidc,
    target: &SessionTarget,
    reg: &Registration,
    opts: &Options,
    prompt: &Prompt,
    listener: &TcpListener,
) -> Result<TokenResponse, Error> {
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::Other { what: format!("cannot read the redirect listener's port: {e}"), hint: None })?;
    let redirect_uri = format!("http://127.0.0.1:{port}/oauth/callback");
    let verifier = code_verifier()?;
    let state = uuid4()?;
    let url = authorize_url(
        &oidc.endpoint,
        &reg.client_id,
        &redirect_uri,
        &state,
        &wanted_scopes(target).join(" "),
        &code_challenge(&verifier),
    );
    prompt
        .line(&format!("aws-sso-process: to sign in to {}, open this URL in a browser on this machine:", target.label));
    prompt.item(&url, false);
    if opts.open_browser {
        match crate::browser::open(ctx, &url) {
            Ok(()) => prompt.line("aws-sso-process: opened the URL in your browser"),
            Err(why) => prompt.line(&format!("aws-sso-process: {why}; open the URL by hand")),
        }
    }
    let code = wait_for_code(ctx, listener, &state, Instant::now() + PKCE_TIMEOUT, target, prompt);
    prompt.end_status();
    let code = code?;
    let body = json!({
        "grantType": "authorization_code",
        "clientId": reg.client_id,
        "clientSecret": reg.client_secret.expose(),
        "redirectUri": redirect_uri,
        "codeVerifier": verifier,
        "code": code.expose(),
    });
    oidc.create_token(&body).map_err(|e| {
        if e.service().is_some_and(|s| s.is("ExpiredTokenException")) {
            Error::Other {
                what: format!("the authorization code for {} expired before it was redeemed", target.label),
                hint: Some(format!("run 'aws-sso-process login {}' again", target.login_args)),
            }
        } else {
            failed(format!("cannot redeem the authorization code for {}", target.label), e)
        }
    })
}

/// The authorization server sent the browser back with `invalid_client`: the same refusal as
/// CreateToken's InvalidClientException, so the login treats it alike (docs/login.md).
fn client_refused_at_authorize(target: &SessionTarget, detail: &str) -> Error {
    let host = target.endpoint(Service::Oidc).map(|e| crate::sanitize::host_of(&e.url)).unwrap_or_default();
    Error::Failed {
        what: format!("the browser sign-in to {} failed", target.label),
        cause: Box::new(Error::Service(crate::http::ServiceError {
            op: "Authorize",
            host,
            status: 302,
            code: "InvalidClientException".to_owned(),
            message: detail.trim().trim_start_matches('(').trim_end_matches(')').to_owned(),
        })),
    }
}

/// The /authorize URL: parameters in the CLI's order, `scopes` plural and `%20`-joined, the
/// challenge appended as it is (it is base64url already).
pub fn authorize_url(
    endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    scopes: &str,
    challenge: &str,
) -> String {
    format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&state={}&code_challenge_method=S256&scopes={}&code_challenge={challenge}",
        endpoint.trim_end_matches('/'),
        encode_component(client_id),
        encode_component(redirect_uri),
        encode_component(state),
        encode_component(scopes)
    )
}

/// Waits for the browser's redirect and returns the authorization code. Any path is accepted
/// (as the CLI does); a request with neither `code` nor `error` (a favicon) is answered 404 and ignored.
/// Request heads are read by `crate::loopback`, so local programs that connect and send slowly (or
/// nothing), however many, cannot hold up the browser's redirect.
fn wait_for_code(
    ctx: &Context,
    listener: &TcpListener,
    state: &str,
    deadline: Instant,
    target: &SessionTarget,
    prompt: &Prompt,
) -> Result<Secret, Error> {
    let io_err = |e: std::io::Error| Error::Other { what: format!("the redirect listener failed: {e}"), hint: None };
    let limits = Limits {
        max_head: CALLBACK_MAX_HEAD,
        deadline: CALLBACK_READ_TIMEOUT,
        bad_request: loopback::answer(400, HTML, "", FAILURE_PAGE).into_bytes(),
        busy: loopback::answer(503, HTML, "", FAILURE_PAGE).into_bytes(),
        log: None,
    };
    // Dropped on return: the listener closes.
    let callbacks = Listener::start(listener.try_clone().map_err(io_err)?, limits).map_err(io_err)?;
    let mut shown_at: Option<Instant> = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Other {
                what: format!(
                    "timed out after {} min waiting for the browser sign-in to {}",
                    PKCE_TIMEOUT.as_secs() / 60,
                    target.label
                ),
                hint: Some(format!(
                    "run 'aws-sso-process login {}' again, or add --use-device-code to sign in on another device",
                    target.login_args
                )),
            });
        }
        if shown_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            shown_at = Some(Instant::now());
            prompt.status(&format!(
                "aws-sso-process: waiting for the sign-in in the browser ({} left; Ctrl-C to stop)",
                crate::prompt::minutes_seconds(left)
            ));
        }
        let mut request = match callbacks.next(left.min(Duration::from_secs(1))) {
            Ok(request) => request,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(io_err(std::io::Error::other("the listener stopped")));
            }
        };
        let stream = &mut request.stream;
        let Some(query) = callback_query(&request.head) else {
            respond(stream, 405, "method not allowed");
            continue;
        };
        let param = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        // Only an answer to this login counts: one without our `state` (another program on
        // 127.0.0.1, a page that found the port) is refused and the wait goes on, so nobody else can
        // end or hijack the sign-in.
        if param("state") != Some(state) {
            if param("code").is_some() || param("error").is_some() {
                ctx.debug(|| "a redirect with another state was refused; still waiting".to_owned());
                respond(stream, 400, FAILURE_PAGE);
            } else {
                respond(stream, 404, "not found");
            }
            continue;
        }
        if let Some(error) = param("error") {
            let detail = param("error_description").map(|d| format!(" ({})", sanitize(d))).unwrap_or_default();
            respond(stream, 200, FAILURE_PAGE);
            if error == "invalid_client" {
                return Err(client_refused_at_authorize(target, &detail));
            }
            return Err(Error::Other {
                what: format!(
                    "the browser sign-in to {} failed: the authorization server answered {}{detail}",
                    target.label,
                    sanitize(error)
                ),
                hint: Some(format!("run 'aws-sso-process login {}' again", target.login_args)),
            });
        }
        let Some(code) = param("code") else {
            respond(stream, 404, "not found");
            continue;
        };
        respond(stream, 200, SUCCESS_PAGE);
        ctx.debug(|| "received the authorization code".to_owned());
        return Ok(Secret::new(code));
    }
}

const HTML: &str = "text/html; charset=utf-8";
const SUCCESS_PAGE: &str = "<!doctype html><title>aws-sso-process</title><p>Signed in. You can close this window and return to the terminal.</p>";
const FAILURE_PAGE: &str =
    "<!doctype html><title>aws-sso-process</title><p>The sign-in did not complete. See the terminal for details.</p>";

/// The query parameters of a request head; `None` when it is not a GET.
fn callback_query(head: &str) -> Option<Vec<(String, String)>> {
    let first = head.lines().next()?;
    let mut parts = first.split_whitespace();
    let (method, target) = (parts.next()?, parts.next()?);
    if method != "GET" {
        return None;
    }
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    Some(
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode_component(k), decode_component(v))
            })
            .collect(),
    )
}

fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    loopback::respond(stream, status, HTML, "", body);
}

// ---------------------------------------------------------------------------------------------------
fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(|e| Error::Other {
        what: format!("cannot read random bytes from the operating system: {e}"),
        hint: None,
    })?;
    Ok(buf)
}

const VERIFIER_CHARS: &[u8; 66] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// 64 characters drawn uniformly from `[A-Za-z0-9-._~]` (docs/login-flows.md): bytes of 198 or more are
/// dropped so that `% 66` favours no character.
fn code_verifier() -> Result<String, Error> {
    let mut out = String::with_capacity(64);
    while out.len() < 64 {
        for b in random_bytes::<96>()? {
            if b < 198 && out.len() < 64 {
                out.push(VERIFIER_CHARS[(b % 66) as usize] as char);
            }
        }
    }
    Ok(out)
}

/// base64url(SHA-256(verifier)) without padding: 43 characters.
pub fn code_challenge(verifier: &str) -> String {
    base64url(&Sha256::digest(verifier.as_bytes()))
}

/// A random (version 4) UUID, as the CLI uses for `state`.
fn uuid4() -> Result<String, Error> {
    let mut b = random_bytes::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// base64url without padding (RFC 4648 §5, as RFC 7636 asks).
fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn rfc7636_appendix_b_challenge() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn base64url_without_padding() {
        for (input, want) in
            [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("\u{ff}\u{fe}", "w7_Dvg")]
        {
            assert_eq!(base64url(input.as_bytes()), want, "{input:?}");
        }
    }

    #[test]
    fn verifier_and_state_shapes() {
        let v = code_verifier().unwrap();
        assert_eq!(v.len(), 64);
        assert!(v.bytes().all(|b| VERIFIER_CHARS.contains(&b)), "{v}");
        assert_ne!(v, code_verifier().unwrap());
        assert_eq!(code_challenge(&v).len(), 43);
        let s = uuid4().unwrap();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!("89ab".contains(&s[19..20]), "{s}");
    }

    #[test]
    fn authorize_url_matches_the_cli() {
        let url = authorize_url(
            "https://oidc.us-east-1.amazonaws.com",
            "cid/+=",
            "http://127.0.0.1:8400/oauth/callback",
            "0b6c1a9e-0000-4000-8000-000000000000",
            "sso:account:access codecatalyst:read_write",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        );
        assert_eq!(
            url,
            "https://oidc.us-east-1.amazonaws.com/authorize?response_type=code&client_id=cid%2F%2B%3D\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A8400%2Foauth%2Fcallback&state=0b6c1a9e-0000-4000-8000-000000000000\
             &code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess%20codecatalyst%3Aread_write\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(crate::url::decode_component("a%20b+c%3A"), "a b c:");
    }
}
