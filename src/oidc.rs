//! SSO OIDC calls (SPEC B.1): RegisterClient, StartDeviceAuthorization and CreateToken, which are
//! unsigned, and CreateTokenWithIAM, which is SigV4-signed for `sso-oauth` (B.1.4). All of them go
//! through `send`: a JSON body POSTed to a path, with an optional query and extra headers.

use crate::endpoints::Endpoint;
use crate::http::{self, CallError, Http, Method, Request, ServiceError};
use crate::secret::Secret;
use crate::sigv4::{self, AwsCredentials, SigningInput};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

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
    /// The whole response, for the low-level `create-token` command.
    pub raw: Map<String, Value>,
}

/// What CreateTokenWithIAM is signed with.
pub struct IamSigning<'a> {
    pub credentials: &'a AwsCredentials,
    /// The OIDC region (the one the endpoint is in).
    pub region: &'a str,
    pub now: DateTime<Utc>,
}

impl<'a> Oidc<'a> {
    /// POSTs a JSON body to `path` and returns the JSON object of a 2xx answer.
    pub fn call(&self, op: &'static str, path: &str, body: &Value) -> Result<Map<String, Value>, CallError> {
        self.send(op, path, &[], &[], serde_json::to_vec(body).unwrap_or_default())
    }

    /// POSTs `body` (JSON bytes) to `path?query` with extra headers; the JSON object of a 2xx answer.
    pub fn send(
        &self,
        op: &'static str,
        path: &str,
        query: &[(&'static str, &str)],
        headers: &[(&'static str, &str)],
        body: Vec<u8>,
    ) -> Result<Map<String, Value>, CallError> {
        let req = Request {
            op,
            method: Method::Post,
            url: format!("{}{path}", self.endpoint),
            query: query.to_vec(),
            headers: headers.to_vec(),
            body: Some(body),
            ca_bundle: self.endpoint.ca_bundle.as_ref(),
        };
        let resp = self.http.send(&req).map_err(CallError::Http)?;
        if !(200..300).contains(&resp.status) {
            return Err(CallError::Service(ServiceError::from_response(&resp)));
        }
        http::json_object(&resp).map_err(CallError::Service)
    }

    /// CreateTokenWithIAM: `POST /token?aws_iam=t`, SigV4-signed (SPEC B.1.4). Returns the
    /// response as the service sent it.
    pub fn create_token_with_iam(&self, body: &Value, signing: &IamSigning) -> Result<Map<String, Value>, CallError> {
        const PATH: &str = "/token";
        const QUERY: [(&str, &str); 1] = [("aws_iam", "t")];
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
        self.send("CreateTokenWithIAM", PATH, &QUERY, &headers, bytes)
    }

    /// CreateToken with the `refresh_token` grant.
    pub fn refresh(
        &self,
        client_id: &str,
        client_secret: &Secret,
        refresh_token: &Secret,
    ) -> Result<TokenResponse, CallError> {
        let body = serde_json::json!({
            "grantType": "refresh_token",
            "clientId": client_id,
            "clientSecret": client_secret.expose(),
            "refreshToken": refresh_token.expose(),
        });
        self.create_token(&body)
    }

    /// CreateToken with any grant; the body is built by the caller.
    pub fn create_token(&self, body: &Value) -> Result<TokenResponse, CallError> {
        let raw = self.call("CreateToken", "/token", body)?;
        parse_token_response(raw).map_err(|what| {
            CallError::Service(ServiceError {
                op: "CreateToken",
                host: http::host_of(&self.endpoint),
                status: 200,
                code: ServiceError::MALFORMED.to_owned(),
                message: what,
            })
        })
    }
}

/// The Host header value for a URL (port left out when it is the scheme's default) and its path.
fn host_and_path(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority.rsplit('@').next().unwrap_or(authority).to_ascii_lowercase();
    let default_port = if scheme.eq_ignore_ascii_case("http") { ":80" } else { ":443" };
    let host = authority.strip_suffix(default_port).map(str::to_owned).unwrap_or(authority);
    let path = rest[end..].split(['?', '#']).next().unwrap_or("");
    (host, if path.is_empty() { "/".to_owned() } else { path.to_owned() })
}

fn parse_token_response(raw: Map<String, Value>) -> Result<TokenResponse, String> {
    let access_token = match raw.get("accessToken") {
        Some(Value::String(s)) if !s.is_empty() => Secret::new(s.clone()),
        _ => return Err("the response has no accessToken".to_owned()),
    };
    let expires_in = match raw.get("expiresIn").and_then(Value::as_i64) {
        Some(n) if n > 0 => n,
        _ => return Err("the response has no positive expiresIn".to_owned()),
    };
    let refresh_token = match raw.get("refreshToken") {
        Some(Value::String(s)) if !s.is_empty() => Some(Secret::new(s.clone())),
        None | Some(Value::Null) | Some(Value::String(_)) => None,
        Some(_) => return Err("refreshToken is not a string".to_owned()),
    };
    Ok(TokenResponse { access_token, expires_in, refresh_token, raw })
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
    fn token_response_shapes() {
        let ok = |s: &str| parse_token_response(serde_json::from_str(s).unwrap());
        let t = ok(r#"{"accessToken":"a","expiresIn":3600,"refreshToken":"r","tokenType":"Bearer"}"#).ok().unwrap();
        assert_eq!(
            (t.access_token.expose(), t.expires_in, t.refresh_token.unwrap().expose().to_owned()),
            ("a", 3600, "r".into())
        );
        assert!(ok(r#"{"accessToken":"a","expiresIn":3600,"refreshToken":""}"#).ok().unwrap().refresh_token.is_none());
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
