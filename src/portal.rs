//! SSO portal calls (docs/sso-services.md): GetRoleCredentials, ListAccounts, ListAccountRoles (one page each;
//! `cmd::list` walks the pages) and Logout. Unsigned; the access token travels in
//! `x-amz-sso_bearer_token`.

use crate::endpoints::Endpoint;
use crate::http::{self, CallError, Http, Method, Request, ServiceError};
use crate::sanitize::scrub;
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

/// An account as ListAccounts describes it. Names and addresses are server text: sanitise before printing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub account_id: String,
    pub account_name: String,
    pub email_address: Option<String>,
}

/// One page of a list operation; `next_token` is `None` on the last page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

impl<'a> Portal<'a> {
    /// One portal call with the bearer token; the response of a 2xx answer.
    fn send(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        token: &Secret,
        query: Vec<(&'static str, &str)>,
    ) -> Result<http::Response, CallError> {
        let req = Request {
            op,
            method,
            url: format!("{}{path}", self.endpoint),
            query,
            headers: vec![(BEARER_HEADER, token.expose())],
            body: None,
            ca_bundle: self.endpoint.ca_bundle.as_ref(),
            // Reads, and a logout, which may end a session twice.
            idempotent: true,
            deadline: None,
            secret_query: false,
        };
        let resp = self.http.send(&req).map_err(CallError::Http)?;
        if !(200..300).contains(&resp.status) {
            return Err(CallError::Service(ServiceError::from_response(&resp)));
        }
        Ok(resp)
    }

    fn get(
        &self,
        op: &'static str,
        path: &str,
        token: &Secret,
        query: Vec<(&'static str, &str)>,
    ) -> Result<Map<String, Value>, CallError> {
        let resp = self.send(op, Method::Get, path, token, query)?;
        http::json_object(&resp).map_err(CallError::Service)
    }

    /// Logout: ends the session at the portal. No output shape; any 2xx is success.
    pub fn logout(&self, token: &Secret) -> Result<(), CallError> {
        self.send("Logout", Method::Post, "/logout", token, Vec::new()).map(drop)
    }

    /// One page of ListAccounts (`max_result`: 1..=100).
    pub fn list_accounts(
        &self,
        token: &Secret,
        next_token: Option<&str>,
        max_result: u32,
    ) -> Result<Page<Account>, CallError> {
        let max = max_result.to_string();
        let mut query = vec![("max_result", max.as_str())];
        query.extend(next_token.map(|t| ("next_token", t)));
        let body = self.get("ListAccounts", "/assignment/accounts", token, query)?;
        parse_page(&body, "accountList", parse_account).map_err(|what| self.malformed("ListAccounts", what))
    }

    /// One page of ListAccountRoles for `account_id`: the role names.
    pub fn list_account_roles(
        &self,
        token: &Secret,
        account_id: &str,
        next_token: Option<&str>,
        max_result: u32,
    ) -> Result<Page<String>, CallError> {
        let max = max_result.to_string();
        let mut query = vec![("account_id", account_id), ("max_result", max.as_str())];
        query.extend(next_token.map(|t| ("next_token", t)));
        let body = self.get("ListAccountRoles", "/assignment/roles", token, query)?;
        parse_page(&body, "roleList", |v| {
            // Names are shown and written (list --json, the config): never a secret this run holds.
            v.get("roleName").and_then(Value::as_str).filter(|s| !s.is_empty()).map(|s| scrub(s).into_owned())
        })
        .map_err(|what| self.malformed("ListAccountRoles", what))
    }

    fn malformed(&self, op: &'static str, what: String) -> CallError {
        CallError::malformed(op, &self.endpoint, what)
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
        parse_role_credentials(&body).map_err(|what| self.malformed("GetRoleCredentials", what))
    }
}

/// A list page: `list_key` holds an array of objects, each turned into an item by `item`;
/// `nextToken` is a string, or absent/null/empty on the last page.
fn parse_page<T>(
    body: &Map<String, Value>,
    list_key: &str,
    item: impl Fn(&Map<String, Value>) -> Option<T>,
) -> Result<Page<T>, String> {
    let items = match body.get(list_key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, v)| v.as_object().and_then(&item).ok_or_else(|| format!("{list_key}[{i}] is not a valid entry")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(format!("{list_key} is not a list")),
    };
    let next_token = match body.get("nextToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t.is_empty() => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => return Err("nextToken is not a string".into()),
    };
    Ok(Page { items, next_token })
}

fn parse_account(v: &Map<String, Value>) -> Option<Account> {
    // Shown and written (list --json, the config) as they are: never a secret this run holds.
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(|s| scrub(s).into_owned());
    let account_id = text("accountId").filter(|s| !s.is_empty())?;
    Some(Account {
        account_name: text("accountName").unwrap_or_default(),
        email_address: text("emailAddress"),
        account_id,
    })
}

pub(crate) fn parse_role_credentials(body: &Map<String, Value>) -> Result<RoleCredentials, String> {
    let rc = body.get("roleCredentials").and_then(Value::as_object).ok_or("the response has no roleCredentials")?;
    let text = |key: &str| match rc.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(Secret::new(s.clone())),
        _ => Err(format!("roleCredentials.{key} is missing or not a string")),
    };
    // `expiration` is epoch milliseconds (docs/sso-services.md).
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
    fn list_pages_parse_and_bad_shapes_are_errors() {
        let body = |s: &str| -> Map<String, Value> { serde_json::from_str(s).unwrap() };
        let p = parse_page(
            &body(r#"{"nextToken":"t2","accountList":[{"accountId":"1","accountName":"A","emailAddress":"a@x"},{"accountId":"2"}]}"#),
            "accountList",
            parse_account,
        )
        .unwrap();
        assert_eq!(p.next_token.as_deref(), Some("t2"));
        assert_eq!(
            p.items[0],
            Account { account_id: "1".into(), account_name: "A".into(), email_address: Some("a@x".into()) }
        );
        assert_eq!(p.items[1].account_name, "");
        for last in [r#"{"accountList":[]}"#, r#"{"nextToken":null}"#, r#"{"nextToken":"","accountList":null}"#] {
            let p = parse_page(&body(last), "accountList", parse_account).unwrap();
            assert!(p.next_token.is_none() && p.items.is_empty(), "{last}");
        }
        for bad in [
            r#"{"accountList":{}}"#,
            r#"{"accountList":[{"accountName":"no id"}]}"#,
            r#"{"accountList":[7]}"#,
            r#"{"accountList":[],"nextToken":5}"#,
        ] {
            assert!(parse_page(&body(bad), "accountList", parse_account).is_err(), "{bad}");
        }
    }

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
