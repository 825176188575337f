//! Console sign-in through the AWS federation endpoint (docs/serve-and-console.md): trade role
//! credentials for a sign-in token (`getSigninToken`), then build the `login` URL that opens the
//! console with it.
//!
//! The request carries the credentials in its query string and the answer is a secret, so nothing
//! here logs a URL, and an error from the HTTP client that could echo the request URL is replaced
//! by a plain sentence. The token is checked before it goes into a URL: text only, bounded.

use crate::error::Error;
use crate::http::{self, CallError, Http, Method, Request, ServiceError};
use crate::network::CaBundle;
use crate::portal::RoleCredentials;
use crate::secret::Secret;
use crate::url::encode_component as encode;
use serde_json::{Value, json};

/// The variable that replaces the federation endpoint's base (`/federation` is appended).
pub const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_SIGNIN";
/// Longest sign-in token we accept (real ones are about a kilobyte).
const MAX_TOKEN: usize = 16 * 1024;

/// The sign-in and console hosts of a partition: (federation base, console host).
fn hosts(partition: &str) -> Option<(&'static str, &'static str)> {
    match partition {
        "aws" => Some(("https://signin.aws.amazon.com", "console.aws.amazon.com")),
        "aws-cn" => Some(("https://signin.amazonaws.cn", "console.amazonaws.cn")),
        "aws-us-gov" => Some(("https://signin.amazonaws-us-gov.com", "console.amazonaws-us-gov.com")),
        _ => None,
    }
}

/// The federation endpoint URL (`.../federation`): `override_base` when set, else the partition's.
pub fn endpoint(partition: &str, override_base: Option<&str>) -> Result<String, Error> {
    if let Some(base) = override_base {
        let lower = base.to_ascii_lowercase();
        let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
        if rest.is_none_or(|r| r.split(['/', '?', '#']).next().is_none_or(|h| h.is_empty() || h.contains(' '))) {
            return Err(Error::Other {
                what: format!(
                    "endpoint URL {:?} from {ENDPOINT_VAR} is not an http(s) URL",
                    crate::sanitize::sanitize(base)
                ),
                hint: Some(format!("set {ENDPOINT_VAR} to a base URL such as https://signin.aws.amazon.com")),
            });
        }
        // The role's keys travel in the query: plain http only to this machine (a test endpoint),
        // never in clear text through a network or a proxy's access log.
        let authority = rest.unwrap_or_default().split(['/', '?', '#']).next().unwrap_or_default();
        if lower.starts_with("http://") && !is_loopback(authority) {
            return Err(Error::Other {
                what: format!(
                    "endpoint URL {:?} from {ENDPOINT_VAR} is plain http to another machine",
                    crate::sanitize::display_url(&crate::sanitize::sanitize(base))
                ),
                hint: Some(format!("use https in {ENDPOINT_VAR}: the sign-in request carries the role's keys")),
            });
        }
        return Ok(format!("{}/federation", base.trim_end_matches('/')));
    }
    match hosts(partition) {
        Some((base, _)) => Ok(format!("{base}/federation")),
        None => Err(Error::Other {
            what: format!("console sign-in is not supported in the {partition} partition"),
            hint: Some(format!(
                "aws-sso-process knows the sign-in endpoints of aws, aws-cn and aws-us-gov; set {ENDPOINT_VAR} \
                 (and pass --destination) if you know yours"
            )),
        }),
    }
}

/// Whether a URL's authority (`[user@]host[:port]`) names this machine: `localhost`, or an IP
/// address in 127.0.0.0/8 or `[::1]`; never a name that only starts like one (`127.evil.example`).
fn is_loopback(authority: &str) -> bool {
    let Ok(authority) = authority.parse::<ureq::http::uri::Authority>() else { return false };
    let Some((host, _)) = crate::url::host_port(&authority) else { return false };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The console home for a partition and region (the partition's console without a region).
pub fn console_home(partition: &str, region: Option<&str>) -> Option<String> {
    let (_, console) = hosts(partition)?;
    Some(match (partition, region) {
        ("aws", Some(r)) => format!("https://{r}.{console}/console/home?region={r}"),
        (_, Some(r)) => format!("https://{console}/console/home?region={r}"),
        (_, None) => format!("https://{console}/console/home"),
    })
}

/// Whether a region name is safe to put in the console's host name: a host label
/// (`endpoints::is_host_label`) in lower case and of a region's length (the longest today is 14).
pub fn plausible_region(region: &str) -> bool {
    crate::endpoints::is_host_label(region) && region.len() <= 50 && !region.bytes().any(|b| b.is_ascii_uppercase())
}

/// `getSigninToken` with the role credentials as the session (no `SessionDuration`: it is refused
/// for credentials that did not come from AssumeRole with long-term keys).
pub fn signin_token(
    http: &Http,
    url: &str,
    creds: &RoleCredentials,
    ca_bundle: Option<&CaBundle>,
) -> Result<Secret, Error> {
    const OP: &str = "GetSigninToken";
    let session = json!({
        "sessionId": creds.access_key_id.expose(),
        "sessionKey": creds.secret_access_key.expose(),
        "sessionToken": creds.session_token.expose(),
    })
    .to_string();
    let req = Request {
        op: OP,
        method: Method::Get,
        url: url.to_owned(),
        query: vec![("Action", "getSigninToken"), ("Session", &session)],
        headers: Vec::new(),
        body: None,
        ca_bundle,
        idempotent: true,
        deadline: None,
        secret_query: true,
    };
    let resp = http.send(&req)?;
    if !(200..300).contains(&resp.status) {
        return Err(ServiceError::from_response(&resp).into());
    }
    let body = http::json_object(&resp)?;
    match body.get("SigninToken") {
        Some(Value::String(t)) if !t.is_empty() && t.len() <= MAX_TOKEN && t.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Secret::new(t.clone()))
        }
        _ => Err(CallError::malformed(OP, url, "the answer has no SigninToken of printable text".to_owned()).into()),
    }
}

/// The URL that signs in to the console and goes to `destination`.
pub fn login_url(url: &str, issuer: &str, destination: &str, token: &Secret) -> String {
    format!(
        "{url}?Action=login&Issuer={}&Destination={}&SigninToken={}",
        encode(issuer),
        encode(destination),
        encode(token.expose())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_hosts() {
        let cases = [
            (
                "aws",
                Some("eu-west-1"),
                "https://signin.aws.amazon.com/federation",
                Some("https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"),
            ),
            (
                "aws",
                None,
                "https://signin.aws.amazon.com/federation",
                Some("https://console.aws.amazon.com/console/home"),
            ),
            (
                "aws-cn",
                Some("cn-north-1"),
                "https://signin.amazonaws.cn/federation",
                Some("https://console.amazonaws.cn/console/home?region=cn-north-1"),
            ),
            (
                "aws-us-gov",
                Some("us-gov-west-1"),
                "https://signin.amazonaws-us-gov.com/federation",
                Some("https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1"),
            ),
        ];
        for (partition, region, federation, console) in cases {
            assert_eq!(endpoint(partition, None).unwrap(), federation, "{partition}");
            assert_eq!(console_home(partition, region).as_deref(), console, "{partition}");
        }
        for partition in ["aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"] {
            let e = endpoint(partition, None).unwrap_err();
            assert_eq!(e.to_string(), format!("console sign-in is not supported in the {partition} partition"));
            assert!(e.hint().unwrap().contains(ENDPOINT_VAR));
            assert_eq!(console_home(partition, Some("x")), None);
        }
    }

    #[test]
    fn the_override_replaces_the_base_in_any_partition() {
        assert_eq!(endpoint("aws", Some("http://127.0.0.1:9/")).unwrap(), "http://127.0.0.1:9/federation");
        // The role's keys travel in the query: plain http only to this machine.
        let e = endpoint("aws", Some("http://signin.example.com")).unwrap_err().to_string();
        assert!(e.contains("plain http to another machine"), "{e}");
        assert!(endpoint("aws", Some("http://u:p@127.0.0.1:9")).is_ok());
        for local in ["http://localhost:9", "http://127.1.2.3", "http://[::1]:9/", "http://LOCALHOST"] {
            assert!(endpoint("aws", Some(local)).is_ok(), "{local}");
        }
        // Names that only start like this machine's are other machines.
        for other in [
            "http://localhost.attacker.example",
            "http://127.attacker.example:80",
            "http://127.0.0.1.nip.io",
            "http://[::1].evil",
            "http://127.0.0.1:9@evil.example",
            "http://127.0.0.1:x",
        ] {
            let e = endpoint("aws", Some(other)).unwrap_err().to_string();
            assert!(e.contains("plain http to another machine"), "{other}: {e}");
        }
        assert_eq!(
            endpoint("aws-iso", Some("https://signin.example/x")).unwrap(),
            "https://signin.example/x/federation"
        );
        for bad in ["ftp://x", "http://", "https:///path", "signin.example", "http:// x"] {
            let e = endpoint("aws", Some(bad)).unwrap_err();
            assert!(e.to_string().contains(ENDPOINT_VAR), "{bad}: {e}");
        }
    }

    #[test]
    fn login_url_encodes_every_part() {
        let url = login_url(
            "https://signin.aws.amazon.com/federation",
            "https://corp.awsapps.com/start",
            "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1",
            &Secret::new("tok+/=en"),
        );
        assert_eq!(
            url,
            "https://signin.aws.amazon.com/federation?Action=login&Issuer=https%3A%2F%2Fcorp.awsapps.com%2Fstart\
             &Destination=https%3A%2F%2Feu-west-1.console.aws.amazon.com%2Fconsole%2Fhome%3Fregion%3Deu-west-1\
             &SigninToken=tok%2B%2F%3Den"
        );
    }

    #[test]
    fn regions_that_fit_a_host_name() {
        assert!(plausible_region("eu-west-1") && plausible_region("us-gov-west-1"));
        for bad in ["", "EU-WEST-1", "eu west", "x.evil.example/", "a@b", &"a".repeat(51)] {
            assert!(!plausible_region(bad), "{bad}");
        }
    }
}
