//! SSO portal calls (SPEC B.2): GetRoleCredentials and Logout; ListAccounts and ListAccountRoles
//! use the same `get`. Unsigned; the access token travels in `x-amz-sso_bearer_token`.

use crate::endpoints::Endpoint;
use crate::http::{self, CallError, Http, Method, Request, ServiceError};
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub const BEARER_HEADER: &str = "x-amz-sso_bearer_token";

pub struct Portal<'a> {
    pub http: &'a Http,
    /// Resolved endpoint, e.g. `https://portal.sso.us-east-1.amazonaws.com`.
    pub endpoint: Endpoint,
}

/// Role credentials as the portal hands them out.
#[derive(Debug, Clone)]
pub struct RoleCredentials {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    pub expiration: DateTime<Utc>,
}

impl<'a> Portal<'a> {
    fn get(
        &self,
        op: &'static str,
        path: &str,
        token: &Secret,
        query: Vec<(&'static str, &str)>,
    ) -> Result<Map<String, Value>, CallError> {
        let req = Request {
            op,
            method: Method::Get,
            url: format!("{}{path}", self.endpoint),
            query,
            headers: vec![(BEARER_HEADER, token.expose())],
            body: None,
            ca_bundle: self.endpoint.ca_bundle.as_ref(),
        };
        let resp = self.http.send(&req).map_err(CallError::Http)?;
        if !(200..300).contains(&resp.status) {
            return Err(CallError::Service(ServiceError::from_response(&resp)));
        }
        http::json_object(&resp).map_err(CallError::Service)
    }

    /// Logout: ends the session at the portal. No output shape; any 2xx is success.
    pub fn logout(&self, token: &Secret) -> Result<(), CallError> {
        let req = Request {
            op: "Logout",
            method: Method::Post,
            url: format!("{}/logout", self.endpoint),
            query: Vec::new(),
            headers: vec![(BEARER_HEADER, token.expose())],
            body: None,
            ca_bundle: self.endpoint.ca_bundle.as_ref(),
        };
        let resp = self.http.send(&req).map_err(CallError::Http)?;
        if !(200..300).contains(&resp.status) {
            return Err(CallError::Service(ServiceError::from_response(&resp)));
        }
        Ok(())
    }

    pub fn get_role_credentials(
        &self,
        token: &Secret,
        account_id: &str,
        role_name: &str,
    ) -> Result<RoleCredentials, CallError> {
        let body = self.get(
            "GetRoleCredentials",
            "/federation/credentials",
            token,
            vec![("role_name", role_name), ("account_id", account_id)],
        )?;
        parse_role_credentials(&body).map_err(|what| {
            CallError::Service(ServiceError {
                op: "GetRoleCredentials",
                host: http::host_of(&self.endpoint),
                status: 200,
                code: ServiceError::MALFORMED.to_owned(),
                message: what,
            })
        })
    }
}

pub(crate) fn parse_role_credentials(body: &Map<String, Value>) -> Result<RoleCredentials, String> {
    let rc = body.get("roleCredentials").and_then(Value::as_object).ok_or("the response has no roleCredentials")?;
    let text = |key: &str| match rc.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(Secret::new(s.clone())),
        _ => Err(format!("roleCredentials.{key} is missing or not a string")),
    };
    // `expiration` is epoch milliseconds (SPEC B.10.1).
    let expiration = rc
        .get("expiration")
        .and_then(Value::as_i64)
        .and_then(crate::timefmt::from_epoch_millis)
        .ok_or("roleCredentials.expiration is missing or not epoch milliseconds")?;
    Ok(RoleCredentials {
        access_key_id: text("accessKeyId")?,
        secret_access_key: text("secretAccessKey")?,
        session_token: text("sessionToken")?,
        expiration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_millis_and_rejects_bad_shapes() {
        let parse = |s: &str| parse_role_credentials(&serde_json::from_str(s).unwrap());
        let c = parse(r#"{"roleCredentials":{"accessKeyId":"AK","secretAccessKey":"SK","sessionToken":"ST","expiration":1665736069000}}"#).unwrap();
        assert_eq!(crate::timefmt::format(c.expiration), "2022-10-14T08:27:49Z");
        let shown = format!("{c:?}");
        assert!(!shown.contains("SK") && !shown.contains("ST") && !shown.contains("AK"), "{shown}");
        for bad in [
            r#"{}"#,
            r#"{"roleCredentials":[]}"#,
            r#"{"roleCredentials":{"accessKeyId":"AK","secretAccessKey":"SK","sessionToken":"ST"}}"#,
            r#"{"roleCredentials":{"accessKeyId":"AK","secretAccessKey":"SK","sessionToken":"ST","expiration":"soon"}}"#,
            r#"{"roleCredentials":{"accessKeyId":1,"secretAccessKey":"SK","sessionToken":"ST","expiration":1}}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
