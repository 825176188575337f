//! SSO OIDC calls (docs/sso-services.md): RegisterClient, StartDeviceAuthorization and CreateToken, which are
//! unsigned, and CreateTokenWithIAM, which is SigV4-signed for `sso-oauth` (docs/sso-services.md). All of them go
//! through `send`: a JSON body POSTed to a path, with an optional query and extra headers.
//!
//! A body that carries a refresh token is never sent twice once it may have reached the service:
//! the service may have rotated that refresh token, and a second use of a rotated one can end the
//! whole session (docs/reliability.md).

use crate::endpoints::Endpoint;
use crate::http::{self, CallError, Http, Method, Request, ServiceError};
use crate::secret::Secret;
use crate::sigv4::{self, AwsCredentials, SigningInput};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::time::Instant;

/// The SigV4 signing name of SSO OIDC (not its endpoint prefix `oidc`).
pub const SIGNING_NAME: &str = "sso-oauth";

pub struct Oidc<'a> {
    pub http: &'a Http,
    /// Resolved endpoint, e.g. `https://oidc.us-east-1.amazonaws.com`.
    pub endpoint: Endpoint,
}

/// What CreateToken returned. `expires_in` is in seconds.
pub struct TokenResponse {
    pub access_token: Secret,
    pub expires_in: i64,
    pub refresh_token: Option<Secret>,
}

/// What CreateTokenWithIAM is signed with.
pub struct IamSigning<'a> {
    pub credentials: &'a AwsCredentials,
    /// The OIDC region (the one the endpoint is in).
    pub region: &'a str,
    pub now: DateTime<Utc>,
}

/// What RegisterClient returned (docs/sso-services.md). `client_secret_expires_at` is epoch **seconds**.
pub struct ClientRegistration {
    pub client_id: String,
    pub client_secret: Secret,
    pub client_secret_expires_at: i64,
}

/// What StartDeviceAuthorization returned (docs/sso-services.md). Times are seconds.
pub struct DeviceAuthorization {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: i64,
    pub interval: Option<i64>,
}

impl<'a> Oidc<'a> {
    fn malformed(&self, op: &'static str, what: String) -> CallError {
        CallError::malformed(op, &self.endpoint, what)
    }

    /// RegisterClient; the body (clientName, clientType, scopes, grant types...) is built by the caller.
    pub fn register_client(&self, body: &Value) -> Result<ClientRegistration, CallError> {
        let raw = self.call("RegisterClient", "/client/register", body)?;
        parse_registration(&raw).map_err(|what| self.malformed("RegisterClient", what))
    }

    pub fn start_device_authorization(
        &self,
        client_id: &str,
        client_secret: &Secret,
        start_url: &str,
    ) -> Result<DeviceAuthorization, CallError> {
        let body = serde_json::json!({
            "clientId": client_id,
            "clientSecret": client_secret.expose(),
            "startUrl": start_url,
        });
        let raw = self.call("StartDeviceAuthorization", "/device_authorization", &body)?;
        parse_device_authorization(&raw).map_err(|what| self.malformed("StartDeviceAuthorization", what))
    }

    /// POSTs a JSON body to `path` and returns the JSON object of a 2xx answer.
    pub fn call(&self, op: &'static str, path: &str, body: &Value) -> Result<Map<String, Value>, CallError> {
        self.call_until(op, path, body, None)
    }

    /// `call`, giving up at `deadline` if one is given.
    fn call_until(
        &self,
        op: &'static str,
        path: &str,
        body: &Value,
        deadline: Option<Instant>,
    ) -> Result<Map<String, Value>, CallError> {
        hold_secrets(body);
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.send(op, path, &[], &[], bytes, Sending { idempotent: !carries_refresh_token(body), deadline })
    }

    /// POSTs `body` (JSON bytes) to `path?query` with extra headers; the JSON object of a 2xx answer.
    fn send(
        &self,
        op: &'static str,
        path: &str,
        query: &[(&'static str, &str)],
        headers: &[(&'static str, &str)],
        body: Vec<u8>,
        sending: Sending,
    ) -> Result<Map<String, Value>, CallError> {
        let req = Request {
            op,
            method: Method::Post,
            url: format!("{}{path}", self.endpoint),
            query: query.to_vec(),
            headers: headers.to_vec(),
            body: Some(body),
            ca_bundle: self.endpoint.ca_bundle.as_ref(),
            idempotent: sending.idempotent,
            deadline: sending.deadline,
            secret_query: false,
        };
        let resp = self.http.send(&req).map_err(CallError::Http)?;
        if !(200..300).contains(&resp.status) {
            return Err(CallError::Service(ServiceError::from_response(&resp)));
        }
        http::json_object(&resp).map_err(CallError::Service)
    }

    /// CreateTokenWithIAM: `POST /token?aws_iam=t`, SigV4-signed (docs/sso-services.md). Returns the
    /// response as the service sent it.
    pub fn create_token_with_iam(&self, body: &Value, signing: &IamSigning) -> Result<Map<String, Value>, CallError> {
        const PATH: &str = "/token";
        const QUERY: [(&str, &str); 1] = [("aws_iam", "t")];
        hold_secrets(body);
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let url = format!("{}{PATH}", self.endpoint);
        let (host, path) = host_and_path(&url);
        let signed = sigv4::sign(
            &SigningInput {
                method: "POST",
                host: &host,
                path: &path,
                query: &QUERY,
                // Http sends JSON bodies with exactly this content type.
                headers: &[("content-type", "application/json")],
                payload: &bytes,
            },
            signing.credentials,
            signing.region,
            SIGNING_NAME,
            signing.now,
        );
        let mut headers = vec![
            // Sent explicitly so the Host on the wire is the one signed.
            ("host", host.as_str()),
            ("x-amz-date", signed.amz_date.as_str()),
            ("authorization", signed.authorization.as_str()),
        ];
        if let Some(token) = &signing.credentials.session_token {
            headers.push(("x-amz-security-token", token.expose()));
        }
        let sending = Sending { idempotent: !carries_refresh_token(body), deadline: None };
        self.send("CreateTokenWithIAM", PATH, &QUERY, &headers, bytes, sending)
    }

    /// CreateToken with the `refresh_token` grant, giving up at `deadline` if one is given.
    pub fn refresh(
        &self,
        client_id: &str,
        client_secret: &Secret,
        refresh_token: &Secret,
        deadline: Option<Instant>,
    ) -> Result<TokenResponse, CallError> {
        let body = serde_json::json!({
            "grantType": "refresh_token",
            "clientId": client_id,
            "clientSecret": client_secret.expose(),
            "refreshToken": refresh_token.expose(),
        });
        let raw = self.call_until("CreateToken", "/token", &body, deadline)?;
        parse_token_response(raw).map_err(|what| self.malformed("CreateToken", what))
    }

    /// CreateToken with any grant; the body is built by the caller.
    pub fn create_token(&self, body: &Value) -> Result<TokenResponse, CallError> {
        let raw = self.call("CreateToken", "/token", body)?;
        parse_token_response(raw).map_err(|what| self.malformed("CreateToken", what))
    }
}

/// How a request may be sent: again after a failed try, and until when.
struct Sending {
    idempotent: bool,
    deadline: Option<Instant>,
}

/// The request members that carry secrets (docs/sso-services.md).
const SECRET_MEMBERS: [&str; 8] =
    ["clientSecret", "refreshToken", "deviceCode", "code", "codeVerifier", "assertion", "subjectToken", "accessToken"];

/// Remembers the secrets of a request body, whoever built it (a login, or a `create-token` from
/// `--cli-input-json`), so that no message repeats them (see `sanitize`).
fn hold_secrets(body: &Value) {
    for key in SECRET_MEMBERS {
        if let Some(Value::String(value)) = body.get(key) {
            crate::secret::hold(value);
        }
    }
}

/// Whether a request body holds a refresh token, which must not reach the service twice.
fn carries_refresh_token(body: &Value) -> bool {
    body.get("refreshToken").is_some()
}

/// The Host header value for a URL (port left out when it is the scheme's default) and its path.
pub(crate) fn host_and_path(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority.rsplit('@').next().unwrap_or(authority).to_ascii_lowercase();
    let default_port = if scheme.eq_ignore_ascii_case("http") { ":80" } else { ":443" };
    let host = authority.strip_suffix(default_port).map(str::to_owned).unwrap_or(authority);
    let path = rest[end..].split(['?', '#']).next().unwrap_or("");
    (host, if path.is_empty() { "/".to_owned() } else { path.to_owned() })
}

fn non_empty(raw: &Map<String, Value>, key: &str) -> Result<String, String> {
    match raw.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(format!("the response has no {key}")),
    }
}

pub(crate) fn parse_registration(raw: &Map<String, Value>) -> Result<ClientRegistration, String> {
    let client_secret_expires_at = match raw.get("clientSecretExpiresAt").and_then(Value::as_i64) {
        Some(n) if n > 0 => n,
        _ => return Err("the response has no clientSecretExpiresAt in epoch seconds".to_owned()),
    };
    Ok(ClientRegistration {
        client_id: non_empty(raw, "clientId")?,
        client_secret: Secret::new(non_empty(raw, "clientSecret")?),
        client_secret_expires_at,
    })
}

/// Longest token lifetime we believe: a larger `expiresIn` is clamped, so time arithmetic cannot
/// overflow and a refresh that succeeded still saves its rotated refresh token.
const MAX_TOKEN_LIFETIME_SECS: i64 = 366 * 86_400;
/// Longest device-code lifetime and polling interval we believe (the service sends 600 s and 1-5 s).
const MAX_DEVICE_CODE_LIFETIME_SECS: i64 = 86_400;
const MAX_POLL_INTERVAL_SECS: i64 = 300;

/// A positive whole number of seconds, clamped to `max`.
fn positive_secs(raw: &Map<String, Value>, key: &str, max: i64) -> Option<i64> {
    raw.get(key).and_then(Value::as_i64).filter(|n| *n > 0).map(|n| n.min(max))
}

pub(crate) fn parse_device_authorization(raw: &Map<String, Value>) -> Result<DeviceAuthorization, String> {
    let expires_in = positive_secs(raw, "expiresIn", MAX_DEVICE_CODE_LIFETIME_SECS)
        .ok_or("the response has no positive expiresIn")?;
    Ok(DeviceAuthorization {
        device_code: Secret::new(non_empty(raw, "deviceCode")?),
        user_code: non_empty(raw, "userCode")?,
        verification_uri: non_empty(raw, "verificationUri")?,
        verification_uri_complete: non_empty(raw, "verificationUriComplete").ok(),
        expires_in,
        interval: positive_secs(raw, "interval", MAX_POLL_INTERVAL_SECS),
    })
}

pub(crate) fn parse_token_response(raw: Map<String, Value>) -> Result<TokenResponse, String> {
    let access_token = match raw.get("accessToken") {
        Some(Value::String(s)) if !s.is_empty() => Secret::new(s.clone()),
        _ => return Err("the response has no accessToken".to_owned()),
    };
    let expires_in =
        positive_secs(&raw, "expiresIn", MAX_TOKEN_LIFETIME_SECS).ok_or("the response has no positive expiresIn")?;
    let refresh_token = match raw.get("refreshToken") {
        Some(Value::String(s)) if !s.is_empty() => Some(Secret::new(s.clone())),
        None | Some(Value::Null) | Some(Value::String(_)) => None,
        Some(_) => return Err("refreshToken is not a string".to_owned()),
    };
    Ok(TokenResponse { access_token, expires_in, refresh_token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_and_path() {
        let cases = [
            ("http://127.0.0.1:4567/token", "127.0.0.1:4567", "/token"),
            ("https://OIDC.us-east-1.amazonaws.com:443/token", "oidc.us-east-1.amazonaws.com", "/token"),
            ("http://u:p@h.test:80/base/token?x=1", "h.test", "/base/token"),
            ("https://h.test", "h.test", "/"),
        ];
        for (url, host, path) in cases {
            assert_eq!(host_and_path(url), (host.to_owned(), path.to_owned()), "{url}");
        }
    }

    #[test]
    fn registration_and_device_shapes() {
        let reg = |s: &str| parse_registration(&serde_json::from_str(s).unwrap());
        let r = reg(r#"{"clientId":"c","clientSecret":"s","clientIdIssuedAt":1,"clientSecretExpiresAt":1900000000}"#)
            .ok()
            .unwrap();
        assert_eq!(
            (r.client_id.as_str(), r.client_secret.expose(), r.client_secret_expires_at),
            ("c", "s", 1900000000)
        );
        for bad in [r#"{"clientId":"c","clientSecret":"s"}"#, r#"{"clientSecret":"s","clientSecretExpiresAt":5}"#] {
            assert!(reg(bad).is_err(), "{bad}");
        }
        let dev = |s: &str| parse_device_authorization(&serde_json::from_str(s).unwrap());
        let d = dev(r#"{"deviceCode":"d","userCode":"U","verificationUri":"https://v","expiresIn":600}"#).ok().unwrap();
        assert_eq!((d.interval, d.verification_uri_complete.is_none()), (None, true));
        assert!(dev(r#"{"deviceCode":"d","userCode":"U","verificationUri":"https://v","expiresIn":0}"#).is_err());
        assert!(dev(r#"{"userCode":"U","verificationUri":"https://v","expiresIn":60}"#).is_err());
        // Absurd server values are clamped, never an overflow later.
        let huge = dev(r#"{"deviceCode":"d","userCode":"U","verificationUri":"https://v","expiresIn":9223372036854775807,"interval":9223372036854775807}"#)
            .ok()
            .unwrap();
        assert_eq!((huge.expires_in, huge.interval), (MAX_DEVICE_CODE_LIFETIME_SECS, Some(MAX_POLL_INTERVAL_SECS)));
    }

    #[test]
    fn token_response_shapes() {
        let ok = |s: &str| parse_token_response(serde_json::from_str(s).unwrap());
        let t = ok(r#"{"accessToken":"a","expiresIn":3600,"refreshToken":"r","tokenType":"Bearer"}"#).ok().unwrap();
        assert_eq!(
            (t.access_token.expose(), t.expires_in, t.refresh_token.unwrap().expose().to_owned()),
            ("a", 3600, "r".into())
        );
        assert!(ok(r#"{"accessToken":"a","expiresIn":3600,"refreshToken":""}"#).ok().unwrap().refresh_token.is_none());
        // Regression: callers add expiresIn to now, which panicked. Clamped rather than
        // rejected: the refresh succeeded at the service, so its rotated refresh token must be saved.
        for huge in [99_999_999_999_999_999_i64, i64::MAX] {
            let t = ok(&format!(r#"{{"accessToken":"a","expiresIn":{huge},"refreshToken":"r"}}"#)).ok().unwrap();
            assert_eq!(t.expires_in, MAX_TOKEN_LIFETIME_SECS);
        }
        for bad in [
            r#"{"expiresIn":3600}"#,
            r#"{"accessToken":"a"}"#,
            r#"{"accessToken":"a","expiresIn":"3600"}"#,
            r#"{"accessToken":5,"expiresIn":1}"#,
            r#"{"accessToken":"a","expiresIn":1,"refreshToken":7}"#,
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
    }
}
