//! STS AssumeRole (docs/chained-roles.md): the Query API (a form-encoded POST, `Version=2011-06-15`),
//! signed with SigV4 for the service `sts` with the source credentials, and its XML answer.
//!
//! The answer is read by a small hand parser rather than an XML crate: it needs a handful of
//! element texts at fixed paths, the five predefined entities and character references, and must
//! refuse what a general parser would have to support (a DOCTYPE, and with it entity expansion).
//! It is bounded in size and depth, allocates only the texts it was asked for, and never panics.

use crate::endpoints::Endpoint;
use crate::http::{CallError, Http, Method, Request, Response, ServiceError};
use crate::secret::Secret;
use crate::sigv4::{self, AwsCredentials, SigningInput};
use chrono::{DateTime, Utc};

/// The SigV4 name of the service.
pub const SIGNING_NAME: &str = "sts";
/// Largest AssumeRole answer we read (a real one is about 2 KiB; session tokens can grow with
/// session tags, but stay far below this).
pub const ANSWER_LIMIT: usize = 64 * 1024;
/// Deepest element nesting we follow (a real answer is four deep).
const MAX_DEPTH: usize = 16;

pub struct Sts<'a> {
    pub http: &'a Http,
    pub endpoint: Endpoint,
    /// The region the request is signed for (the endpoint's region, `us-east-1` for the global one).
    pub signing_region: String,
}

/// The AssumeRole parameters, as botocore names them (the cache key is made of them too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleArgs {
    pub role_arn: String,
    pub role_session_name: String,
    pub external_id: Option<String>,
    pub serial_number: Option<String>,
    pub duration_seconds: Option<i64>,
}

/// What AssumeRole answered. Only the credentials are secret.
#[derive(Debug, Clone)]
pub struct Assumed {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    pub expiration: DateTime<Utc>,
    /// `AssumedRoleUser`: the session's ARN and ID.
    pub arn: String,
    pub assumed_role_id: String,
    pub source_identity: Option<String>,
    pub packed_policy_size: Option<i64>,
    pub request_id: Option<String>,
}

impl Sts<'_> {
    /// AssumeRole with `creds`; `token_code` is the MFA code when the role asks for one.
    pub fn assume_role(
        &self,
        args: &AssumeRoleArgs,
        token_code: Option<&str>,
        creds: &AwsCredentials,
        now: DateTime<Utc>,
    ) -> Result<Assumed, CallError> {
        const OP: &str = "AssumeRole";
        let duration = args.duration_seconds.map(|d| d.to_string());
        let mut form: Vec<(&str, &str)> = vec![
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", &args.role_arn),
            ("RoleSessionName", &args.role_session_name),
        ];
        form.extend(args.external_id.as_deref().map(|v| ("ExternalId", v)));
        form.extend(args.serial_number.as_deref().map(|v| ("SerialNumber", v)));
        form.extend(token_code.map(|v| ("TokenCode", v)));
        form.extend(duration.as_deref().map(|v| ("DurationSeconds", v)));
        let body = form_encode(&form).into_bytes();

        let url = format!("{}/", self.endpoint);
        let (host, path) = crate::oidc::host_and_path(&url);
        const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
        let signed = sigv4::sign(
            &SigningInput {
                method: "POST",
                host: &host,
                path: &path,
                query: &[],
                headers: &[("content-type", CONTENT_TYPE)],
                payload: &body,
            },
            creds,
            &self.signing_region,
            SIGNING_NAME,
            now,
        );
        let mut headers = vec![
            ("host", host.as_str()),
            ("content-type", CONTENT_TYPE),
            ("x-amz-date", signed.amz_date.as_str()),
            ("authorization", signed.authorization.as_str()),
        ];
        if let Some(token) = &creds.session_token {
            headers.push(("x-amz-security-token", token.expose()));
        }
        let req = Request {
            op: OP,
            method: Method::Post,
            url,
            query: Vec::new(),
            headers,
            body: Some(body),
            ca_bundle: self.endpoint.ca_bundle.as_ref(),
            // A second AssumeRole is harmless (each answer is a session of its own), but one with an
            // MFA code is refused by STS (a code is good once): that one is sent once.
            idempotent: token_code.is_none(),
            deadline: None,
            secret_query: false,
        };
        let resp = self.http.send(&req).map_err(CallError::Http)?;
        if !(200..300).contains(&resp.status) {
            return Err(CallError::Service(error_of(&resp)));
        }
        parse_assume_role(&resp.body).map_err(|what| CallError::Service(ServiceError::malformed(&resp, what)))
    }
}

/// The cache key botocore's `BaseAssumeRoleCredentialFetcher._create_cache_key` makes: the SHA-1 of
/// `json.dumps(args, sort_keys=True)` of the AssumeRole arguments, where a default (generated)
/// session name is left out. `session_name` is `None` (or empty) for the default.
pub fn cache_key(
    role_arn: &str,
    session_name: Option<&str>,
    external_id: Option<&str>,
    serial_number: Option<&str>,
    duration_seconds: Option<i64>,
) -> String {
    let mut args = serde_json::Map::new();
    if let Some(d) = duration_seconds {
        args.insert("DurationSeconds".into(), d.into());
    }
    if let Some(v) = external_id {
        args.insert("ExternalId".into(), v.into());
    }
    args.insert("RoleArn".into(), role_arn.into());
    if let Some(v) = session_name.filter(|s| !s.is_empty()) {
        args.insert("RoleSessionName".into(), v.into());
    }
    if let Some(v) = serial_number {
        args.insert("SerialNumber".into(), v.into());
    }
    // A hex digest needs none of `_make_file_safe`'s replacements.
    crate::cache::sha1_hex(&crate::cache::py_dumps(&serde_json::Value::Object(args), false))
}

/// `application/x-www-form-urlencoded` as the AWS SDKs write it: RFC 3986 unreserved characters
/// as they are, every other byte `%XX`.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// The service error of a non-2xx STS answer: `<ErrorResponse><Error><Code>`/`<Message>`, sanitised
/// and shortened (a message names ARNs, never a credential).
pub fn error_of(resp: &Response) -> ServiceError {
    let found = if resp.body.len() <= ANSWER_LIMIT {
        find_texts(&resp.body, &[&["ErrorResponse", "Error", "Code"], &["ErrorResponse", "Error", "Message"]]).ok()
    } else {
        None
    };
    let (code, message) = match found {
        Some(mut texts) => (texts[0].take(), texts[1].take()),
        None => (None, None),
    };
    let code = code.filter(|c| !c.trim().is_empty()).unwrap_or_else(|| {
        if resp.body.is_empty() {
            resp.status.to_string()
        } else {
            format!("HTTP {} without an STS error", resp.status)
        }
    });
    let short = |s: &str| {
        let clean = crate::sanitize::sanitize(s.trim());
        if clean.chars().count() > 200 { clean.chars().take(200).collect::<String>() + "…" } else { clean }
    };
    ServiceError {
        op: resp.op,
        host: resp.host.clone(),
        status: resp.status,
        code: short(&code),
        message: message.as_deref().map(short).unwrap_or_default(),
    }
}

/// The AssumeRole answer: `AssumeRoleResponse/AssumeRoleResult/...`.
pub fn parse_assume_role(body: &[u8]) -> Result<Assumed, String> {
    if body.len() > ANSWER_LIMIT {
        return Err(format!("the answer is larger than {} KiB", ANSWER_LIMIT / 1024));
    }
    const R: &str = "AssumeRoleResponse";
    const RES: &str = "AssumeRoleResult";
    let paths: [&[&str]; 9] = [
        &[R, RES, "Credentials", "AccessKeyId"],
        &[R, RES, "Credentials", "SecretAccessKey"],
        &[R, RES, "Credentials", "SessionToken"],
        &[R, RES, "Credentials", "Expiration"],
        &[R, RES, "AssumedRoleUser", "Arn"],
        &[R, RES, "AssumedRoleUser", "AssumedRoleId"],
        &[R, RES, "SourceIdentity"],
        &[R, RES, "PackedPolicySize"],
        &[R, "ResponseMetadata", "RequestId"],
    ];
    let mut t = find_texts(body, &paths)?;
    let mut need = |i: usize, name: &str| {
        t[i].take().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).ok_or_else(|| format!("no {name}"))
    };
    let access_key_id = need(0, "AccessKeyId")?;
    let secret_access_key = need(1, "SecretAccessKey")?;
    let session_token = need(2, "SessionToken")?;
    let expiration = need(3, "Expiration")?;
    let arn = need(4, "AssumedRoleUser Arn")?;
    let assumed_role_id = need(5, "AssumedRoleId")?;
    let expiration = crate::timefmt::parse(&expiration).ok_or("an Expiration that is not a time with a zone")?;
    // The key ID is text that may reach a file name or a log line: it must look like one.
    if !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()) || access_key_id.len() > 128 {
        return Err("an AccessKeyId that is not an access key ID".to_owned());
    }
    Ok(Assumed {
        access_key_id: Secret::new(access_key_id),
        secret_access_key: Secret::new(secret_access_key),
        session_token: Secret::new(session_token),
        expiration,
        arn,
        assumed_role_id,
        source_identity: t[6].take().filter(|s| !s.is_empty()),
        packed_policy_size: t[7].take().and_then(|s| s.trim().parse().ok()),
        request_id: t[8].take().filter(|s| !s.is_empty()),
    })
}

/// The text of the first element at each of `paths` (element names without namespace prefixes).
/// Refuses a DOCTYPE, unbalanced or over-deep nesting, unknown entities and malformed markup.
pub fn find_texts(xml: &[u8], paths: &[&[&str]]) -> Result<Vec<Option<String>>, String> {
    let text = std::str::from_utf8(xml).map_err(|_| "the answer is not UTF-8 XML".to_owned())?;
    let mut found: Vec<Option<String>> = vec![None; paths.len()];
    let mut stack: Vec<&str> = Vec::new();
    // The path index being collected, and its text so far.
    let mut collecting: Option<(usize, String)> = None;
    let mut rest = text;
    let mut saw_root = false;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            append_text(&mut collecting, rest, &stack)?;
            if !rest.trim().is_empty() && stack.is_empty() {
                return Err("text outside the root element".to_owned());
            }
            break;
        };
        let (before, after) = rest.split_at(lt);
        if !before.trim().is_empty() && stack.is_empty() {
            return Err("text outside the root element".to_owned());
        }
        append_text(&mut collecting, before, &stack)?;
        if let Some(r) = after.strip_prefix("<?") {
            let end = r.find("?>").ok_or("an unterminated processing instruction")?;
            rest = &r[end + 2..];
        } else if let Some(r) = after.strip_prefix("<!--") {
            let end = r.find("-->").ok_or("an unterminated comment")?;
            rest = &r[end + 3..];
        } else if let Some(r) = after.strip_prefix("<![CDATA[") {
            let end = r.find("]]>").ok_or("an unterminated CDATA section")?;
            if let Some((_, buf)) = collecting.as_mut() {
                buf.push_str(&r[..end]);
            }
            rest = &r[end + 3..];
        } else if after.starts_with("<!") {
            return Err("a DOCTYPE or other declaration, which an STS answer never has".to_owned());
        } else {
            let gt = after.find('>').ok_or("an unterminated tag")?;
            let tag = &after[1..gt];
            rest = &after[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let name = local(name.trim());
                match stack.pop() {
                    Some(open) if open == name => {}
                    _ => {
                        return Err(format!(
                            "a closing tag </{}> that closes nothing",
                            crate::sanitize::sanitize(name)
                        ));
                    }
                }
                if let Some((i, buf)) = collecting.take() {
                    if stack.len() + 1 == paths[i].len() {
                        found[i] = Some(buf);
                    } else {
                        collecting = Some((i, buf));
                    }
                }
            } else {
                let self_closing = tag.ends_with('/');
                let tag = tag.trim_end_matches('/');
                let name = local(tag.split(|c: char| c.is_ascii_whitespace()).next().unwrap_or(""));
                if name.is_empty() {
                    return Err("a tag without a name".to_owned());
                }
                if stack.is_empty() {
                    if saw_root {
                        return Err("a second root element".to_owned());
                    }
                    saw_root = true;
                }
                if collecting.is_some() {
                    // An element inside a text we collect: not the simple text STS answers have.
                    return Err(format!("markup inside <{}>", stack.last().copied().unwrap_or("")));
                }
                stack.push(name);
                if stack.len() > MAX_DEPTH {
                    return Err(format!("elements nested more than {MAX_DEPTH} deep"));
                }
                if let Some(i) = paths.iter().position(|p| *p == stack.as_slice()).filter(|i| found[*i].is_none()) {
                    collecting = Some((i, String::new()));
                }
                if self_closing {
                    stack.pop();
                    if let Some((i, buf)) = collecting.take() {
                        found[i] = Some(buf);
                    }
                }
            }
        }
    }
    if !stack.is_empty() || !saw_root {
        return Err("the XML answer ends before its root element is closed".to_owned());
    }
    Ok(found)
}

/// A name without its namespace prefix.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Adds `raw` (entities decoded) to the text being collected; checks the entities either way.
fn append_text(collecting: &mut Option<(usize, String)>, raw: &str, _stack: &[&str]) -> Result<(), String> {
    let mut rest = raw;
    let mut out = collecting.as_mut().map(|(_, b)| b);
    while let Some(amp) = rest.find('&') {
        if let Some(buf) = out.as_deref_mut() {
            buf.push_str(&rest[..amp]);
        }
        let after = &rest[amp + 1..];
        let semi = after.find(';').filter(|&s| s <= 10).ok_or("an unterminated entity")?;
        let entity = &after[..semi];
        let ch = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32).ok_or("an unknown entity")?
            }
        };
        if let Some(buf) = out.as_deref_mut() {
            buf.push(ch);
        }
        rest = &after[semi + 1..];
    }
    if let Some(buf) = out {
        buf.push_str(rest);
    }
    Ok(())
}

/// The hint for an AssumeRole error, by its code (docs/chained-roles.md).
pub fn hint_for(code: &str, status: u16) -> String {
    match code {
        "AccessDenied" | "AccessDeniedException" => {
            "check that the role's trust policy lets the source role assume it \
             (and its ExternalId condition, if any), and that the source role may call sts:AssumeRole on it"
                .to_owned()
        }
        "ExpiredToken" | "ExpiredTokenException" | "InvalidClientTokenId" => {
            "STS refused the source credentials (even fetched anew): check this machine's clock, or log in again"
                .to_owned()
        }
        "RegionDisabledException" => "STS is not activated in this region for the account: activate it in IAM \
             (Account settings), or set the profile's region to one where it is"
            .to_owned(),
        "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => {
            "STS is throttling requests; try again shortly".to_owned()
        }
        "ValidationError" => "check role_arn, role_session_name, external_id and duration_seconds".to_owned(),
        _ if status == 429 => "STS is throttling requests; try again shortly".to_owned(),
        _ if status == 403 => "check the role's trust policy and the source role's permissions".to_owned(),
        _ => "check role_arn and the profile's source_profile".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>DevUser123</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/John</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:John</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>AQoDYXdzEPT//////////wEXAMPLE&amp;x&#43;y&#x2F;</SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#;

    #[test]
    fn the_documented_answer_is_read() {
        let a = parse_assume_role(OK.as_bytes()).unwrap();
        assert_eq!(a.access_key_id.expose(), "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(a.secret_access_key.expose(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
        assert_eq!(a.session_token.expose(), "AQoDYXdzEPT//////////wEXAMPLE&x+y/");
        assert_eq!(crate::timefmt::format(a.expiration), "2019-11-09T13:34:41Z");
        assert_eq!(a.arn, "arn:aws:sts::123456789012:assumed-role/demo/John");
        assert_eq!(a.assumed_role_id, "ARO123EXAMPLE123:John");
        assert_eq!(a.source_identity.as_deref(), Some("DevUser123"));
        assert_eq!(a.packed_policy_size, Some(6));
        assert_eq!(a.request_id.as_deref(), Some("c6104cbe-af31-11e0-8154-cbc7ccf896c7"));
        // With a prolog, prefixes, CDATA and a comment, as another implementation might write it.
        let other = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><!-- hi -->{}",
            OK.replace(
                "<SessionToken>AQoDYXdzEPT//////////wEXAMPLE&amp;x&#43;y&#x2F;</SessionToken>",
                "<s:SessionToken><![CDATA[tok<en]]></s:SessionToken>"
            )
        );
        assert_eq!(parse_assume_role(other.as_bytes()).unwrap().session_token.expose(), "tok<en");
    }

    #[test]
    fn hostile_answers_are_refused_without_panic() {
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "ends before"),
            ("<a>".to_owned(), "ends before"),
            ("<!DOCTYPE x [<!ENTITY a \"aaaa\">]><AssumeRoleResponse/>".to_owned(), "DOCTYPE"),
            (OK.replace("&amp;", "&bogus;"), "unknown entity"),
            (OK.replace("&amp;x", "&amp"), "entity"),
            (OK.replace("</Credentials>", ""), "closes nothing"),
            (format!("{OK}<second/>"), "second root"),
            (format!("{OK}trailing"), "outside the root"),
            (OK.replace("<AccessKeyId>ASIAIOSFODNN7EXAMPLE", "<AccessKeyId>AS<b>x</b>"), "markup inside"),
            (OK.replace("<AccessKeyId>ASIAIOSFODNN7EXAMPLE", "<AccessKeyId>../../etc"), "not an access key"),
            (OK.replace("2019-11-09T13:34:41Z", "tomorrow"), "Expiration"),
            (
                OK.replace("<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>", ""),
                "no SecretAccessKey",
            ),
            ("<a>".repeat(40) + &"</a>".repeat(40), "nested"),
            ("<a x='1".to_owned(), "unterminated tag"),
            ("<AssumeRoleResponse><!-- x".to_owned(), "unterminated comment"),
            (format!("<x>{}</x>", "y".repeat(ANSWER_LIMIT)), "larger than"),
            ("<a>&#xD800;</a>".to_owned(), "entity"),
        ];
        for (body, want) in cases {
            let e = parse_assume_role(body.as_bytes()).unwrap_err();
            assert!(e.contains(want), "{e:?} should say {want:?} for {:.80}", body);
        }
        // Not UTF-8, and random prefixes of the valid answer: errors, never panics.
        assert!(parse_assume_role(b"\xff\xfe<a/>").is_err());
        for end in 0..OK.len() {
            if OK.is_char_boundary(end) {
                let _ = parse_assume_role(&OK.as_bytes()[..end]);
            }
        }
        // A secret never reaches a parse error.
        let e =
            parse_assume_role(OK.replace("<Arn>arn:aws:sts::123456789012:assumed-role/demo/John</Arn>", "").as_bytes())
                .unwrap_err();
        assert!(!e.contains("wJalr") && !e.contains("AQoDYX"), "{e}");
    }

    fn response(status: u16, body: &str) -> Response {
        Response {
            op: "AssumeRole",
            host: "sts.us-east-1.amazonaws.com".to_owned(),
            status,
            error_type: None,
            retry_after: None,
            location: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn error_answers_become_code_and_message() {
        let e = error_of(&response(
            403,
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
             <Code>AccessDenied</Code><Message>User: arn:aws:sts::1:assumed-role/A/b is not authorized\u{1b}[31m</Message>\
             </Error><RequestId>r</RequestId></ErrorResponse>",
        ));
        assert_eq!(e.code, "AccessDenied");
        assert!(e.message.starts_with("User: arn:aws:sts::1:assumed-role/A/b is not authorized"), "{}", e.message);
        assert!(!e.message.contains('\u{1b}'));
        let e = error_of(&response(503, "<html>busy</html>"));
        assert_eq!(e.code, "HTTP 503 without an STS error");
        let e = error_of(&response(400, ""));
        assert_eq!(e.code, "400");
        assert!(hint_for("RegionDisabledException", 403).contains("region"));
        assert!(hint_for("ExpiredToken", 400).contains("clock"));
        assert!(hint_for("Throttling", 400).contains("throttling"));
    }

    #[test]
    fn sts_endpoints_follow_the_rules_of_the_other_services() {
        use crate::endpoints::{Service, resolve};
        let host = |region: &str, fips: bool, dual: bool| resolve(Service::Sts, region, fips, dual, None).unwrap();
        assert_eq!(host("eu-west-1", false, false), "https://sts.eu-west-1.amazonaws.com");
        assert_eq!(host("us-east-1", true, false), "https://sts-fips.us-east-1.amazonaws.com");
        assert_eq!(host("eu-west-1", false, true), "https://sts.eu-west-1.api.aws");
        assert_eq!(host("us-gov-west-1", true, false), "https://sts.us-gov-west-1.amazonaws.com");
        assert_eq!(host("cn-north-1", false, false), "https://sts.cn-north-1.amazonaws.com.cn");
        assert!(resolve(Service::Sts, "eu-west-1/x", false, false, None).is_err());
        // The variable and the services block name STS as the SDKs do.
        assert_eq!(Service::Sts.env_var(), "AWS_ENDPOINT_URL_STS");
        assert_eq!(Service::Sts.services_keys(), &["sts"]);
    }

    /// Expected keys computed by botocore itself:
    /// ```text
    /// ~/.cache/aws-sso-process-ci/venv/bin/python -c "
    /// from botocore.credentials import AssumeRoleCredentialFetcher as F
    /// for c in [{}, dict(RoleSessionName='alice'), dict(RoleSessionName='alice', ExternalId='ext-1',
    ///     SerialNumber='arn:aws:iam::111122223333:mfa/alice', DurationSeconds=3600),
    ///     dict(ExternalId='é\"\\\\\n\u2028😀'), dict(RoleSessionName='')]:
    ///   print(F(lambda *a, **k: None, None, 'arn:aws:iam::444455556666:role/Deployer', extra_args=c)._cache_key)"
    /// ```
    #[test]
    fn cache_keys_are_botocores() {
        const ARN: &str = "arn:aws:iam::444455556666:role/Deployer";
        assert_eq!(cache_key(ARN, None, None, None, None), "c2b7803d8ea8daa390a89f9cedfa4418f7859969");
        assert_eq!(cache_key(ARN, Some("alice"), None, None, None), "4d2a5e14dc2ac4dc5d4917697f985d0c521371a8");
        assert_eq!(
            cache_key(ARN, Some("alice"), Some("ext-1"), Some("arn:aws:iam::111122223333:mfa/alice"), Some(3600)),
            "7c128ac8db84f4739c1fdf45ae403dadb4f136c7"
        );
        assert_eq!(
            cache_key(ARN, None, Some("é\"\\\n\u{2028}😀"), None, None),
            "192022b1202f55db4974a773d7ceabc7b9090822"
        );
        // An empty role_session_name is the default, as in botocore.
        assert_eq!(cache_key(ARN, Some(""), None, None, None), "c2b7803d8ea8daa390a89f9cedfa4418f7859969");
    }

    #[test]
    fn forms_are_encoded_as_the_sdks_encode_them() {
        assert_eq!(
            form_encode(&[("RoleArn", "arn:aws:iam::1:role/a b"), ("RoleSessionName", "x+y~z")]),
            "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b&RoleSessionName=x%2By~z"
        );
    }
}
