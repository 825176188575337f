//! SSO OIDC calls (SPEC B.1): CreateToken today; RegisterClient, StartDeviceAuthorization and
//! CreateTokenWithIAM build on the same `call`. All but CreateTokenWithIAM are unsigned.

use crate::endpoints::Endpoint;
use crate::http::{self, CallError, Http, Method, Request, ServiceError};
use crate::secret::Secret;
use serde_json::{Map, Value};

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

impl<'a> Oidc<'a> {
    /// POSTs a JSON body to `path` and returns the JSON object of a 2xx answer.
    pub fn call(&self, op: &'static str, path: &str, body: &Value) -> Result<Map<String, Value>, CallError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let req = Request {
            op,
            method: Method::Post,
            url: format!("{}{path}", self.endpoint),
            query: Vec::new(),
            headers: Vec::new(),
            body: Some(bytes),
            ca_bundle: self.endpoint.ca_bundle.as_ref(),
        };
        let resp = self.http.send(&req).map_err(CallError::Http)?;
        if !(200..300).contains(&resp.status) {
            return Err(CallError::Service(ServiceError::from_response(&resp)));
        }
        http::json_object(&resp).map_err(CallError::Service)
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
