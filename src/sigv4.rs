//! AWS Signature Version 4 for the one signed call we make, CreateTokenWithIAM (docs/sso-services.md):
//! the canonical request, the string to sign, the derived key and the `Authorization` header.
//!
//! Written on RustCrypto `hmac` + `sha2` rather than the SDK's `aws-sigv4` crate: they share the
//! `digest` crate that `sha1` already brings in, while `aws-sigv4` pulls in the smithy runtime
//! types and the `http` crates for one header. The AWS SigV4 test-suite vectors below pin the
//! canonicalisation (docs/oidc-api.md). Header-based signing only, no presigning, no S3 rules (paths are
//! encoded once more, as for every service but S3).

use crate::secret::Secret;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// IAM credentials to sign with. Debug shows none of the values.
#[derive(Debug, Clone)]
pub struct AwsCredentials {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// What is signed: the request as it goes on the wire. `headers` are the headers to sign besides
/// `host` and `x-amz-date` (and `x-amz-security-token`, added from the credentials).
pub struct SigningInput<'a> {
    pub method: &'a str,
    /// `host[:port]` exactly as sent in the Host header.
    pub host: &'a str,
    /// The absolute path, not yet encoded.
    pub path: &'a str,
    /// Query parameters, not yet encoded.
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
}

/// The headers a signed request adds.
pub struct Signed {
    pub authorization: String,
    /// `YYYYMMDDTHHMMSSZ`.
    pub amz_date: String,
}

/// Signs `input` for `service` in `region` at `now`.
pub fn sign(input: &SigningInput, creds: &AwsCredentials, region: &str, service: &str, now: DateTime<Utc>) -> Signed {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let authorization = authorization(input, creds, region, service, &amz_date);
    Signed { authorization, amz_date }
}

fn authorization(input: &SigningInput, creds: &AwsCredentials, region: &str, service: &str, amz_date: &str) -> String {
    let date = &amz_date[..amz_date.len().min(8)];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let (creq, signed_headers) = canonical_request(input, amz_date, creds.session_token.as_ref());
    let sts = string_to_sign(amz_date, &scope, &creq);
    let key = signing_key(creds.secret_access_key.expose(), date, region, service);
    let signature = hex(&hmac(&key, sts.as_bytes()));
    format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key_id.expose()
    )
}

/// The canonical request and its signed-header list.
fn canonical_request(input: &SigningInput, amz_date: &str, token: Option<&Secret>) -> (String, String) {
    let mut headers: Vec<(String, String)> = input
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), trim_all(v)))
        .chain([("host".to_owned(), trim_all(input.host)), ("x-amz-date".to_owned(), amz_date.to_owned())])
        .chain(token.map(|t| ("x-amz-security-token".to_owned(), trim_all(t.expose()))))
        .collect();
    headers.sort();
    // Repeated names join their values with commas, in order.
    let mut merged: Vec<(String, String)> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        match merged.last_mut() {
            Some((last, values)) if *last == name => {
                values.push(',');
                values.push_str(&value);
            }
            _ => merged.push((name, value)),
        }
    }
    let canonical_headers: String = merged.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = merged.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");

    let mut query: Vec<(String, String)> =
        input.query.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
    query.sort();
    let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");

    let path = if input.path.is_empty() { "/".to_owned() } else { uri_encode(input.path, true) };
    let creq = format!(
        "{}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{}",
        input.method.to_ascii_uppercase(),
        hex(&Sha256::digest(input.payload))
    );
    (creq, signed_headers)
}

fn string_to_sign(amz_date: &str, scope: &str, creq: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(creq.as_bytes())))
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Trims a header value and folds runs of spaces into one (SigV4 "Trimall").
fn trim_all(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// RFC 3986 encoding of everything but the unreserved characters (and `/` in a path).
fn uri_encode(s: &str, path: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (path && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The AWS SigV4 test suite (aws-sig-v4-test-suite, also shipped with the SDKs): example key,
    // 2015-08-30T12:36:00Z, us-east-1, service `service`, host example.amazonaws.com.
    const AMZ_DATE: &str = "20150830T123600Z";
    const STS_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

    fn creds(token: Option<&str>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: Secret::new("AKIDEXAMPLE"),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: token.map(Secret::new),
        }
    }

    struct Vector {
        name: &'static str,
        method: &'static str,
        query: &'static [(&'static str, &'static str)],
        headers: &'static [(&'static str, &'static str)],
        payload: &'static str,
        token: Option<&'static str>,
        signed_headers: &'static str,
        signature: &'static str,
        /// The suite's canonical request, where we check it too.
        creq: Option<&'static str>,
    }

    const VANILLA: Vector = Vector {
        name: "get-vanilla",
        method: "GET",
        query: &[],
        headers: &[],
        payload: "",
        token: None,
        signed_headers: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        creq: Some(
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    };

    const VECTORS: &[Vector] = &[
        VANILLA,
        Vector {
            name: "get-vanilla-query-order-key-case",
            query: &[("Param2", "value2"), ("Param1", "value1")],
            signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            creq: Some(
                "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            ..VANILLA
        },
        Vector {
            name: "get-header-value-trim",
            headers: &[("My-Header1", " value1"), ("My-Header2", "\"a   b   c\"")],
            signed_headers: "host;my-header1;my-header2;x-amz-date",
            signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            creq: None,
            ..VANILLA
        },
        Vector {
            name: "post-vanilla",
            method: "POST",
            signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            creq: None,
            ..VANILLA
        },
        Vector {
            name: "post-vanilla-query",
            method: "POST",
            query: &[("Param1", "value1")],
            signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
            creq: Some(
                "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            ..VANILLA
        },
        Vector {
            name: "post-header-value-case",
            method: "POST",
            headers: &[("My-Header1", "VALUE1")],
            signed_headers: "host;my-header1;x-amz-date",
            signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
            creq: None,
            ..VANILLA
        },
        Vector {
            name: "post-x-www-form-urlencoded",
            method: "POST",
            headers: &[("Content-Type", "application/x-www-form-urlencoded")],
            payload: "Param1=value1",
            signed_headers: "content-type;host;x-amz-date",
            signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
            creq: Some(
                "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
            ),
            ..VANILLA
        },
        Vector {
            name: "post-sts-header-before",
            method: "POST",
            token: Some(STS_TOKEN),
            signed_headers: "host;x-amz-date;x-amz-security-token",
            signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
            creq: None,
            ..VANILLA
        },
    ];

    #[test]
    fn aws_sigv4_test_suite() {
        for v in VECTORS {
            let input = SigningInput {
                method: v.method,
                host: "example.amazonaws.com",
                path: "/",
                query: v.query,
                headers: v.headers,
                payload: v.payload.as_bytes(),
            };
            let creds = creds(v.token);
            if let Some(want) = v.creq {
                assert_eq!(canonical_request(&input, AMZ_DATE, creds.session_token.as_ref()).0, want, "{}", v.name);
            }
            let got = authorization(&input, &creds, "us-east-1", "service", AMZ_DATE);
            let want = format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={}, Signature={}",
                v.signed_headers, v.signature
            );
            assert_eq!(got, want, "{}", v.name);
        }
    }

    #[test]
    fn sign_formats_the_date_and_scope() {
        let now = DateTime::parse_from_rfc3339("2015-08-30T12:36:00Z").unwrap().with_timezone(&Utc);
        let input = SigningInput {
            method: "GET",
            host: "example.amazonaws.com",
            path: "/",
            query: &[],
            headers: &[],
            payload: b"",
        };
        let signed = sign(&input, &creds(None), "us-east-1", "service", now);
        assert_eq!(signed.amz_date, AMZ_DATE);
        assert!(signed.authorization.ends_with(VANILLA.signature), "{}", signed.authorization);
    }

    #[test]
    fn create_token_with_iam_canonical_request() {
        // The shape botocore signs (docs/sso-services.md): POST /token?aws_iam=t, JSON body, service sso-oauth.
        let body =
            br#"{"clientId":"arn:aws:sso::123456789012:application/ssoins-1/apl-1","grantType":"refresh_token"}"#;
        let input = SigningInput {
            method: "POST",
            host: "oidc.us-east-1.amazonaws.com",
            path: "/token",
            query: &[("aws_iam", "t")],
            headers: &[("content-type", "application/json")],
            payload: body,
        };
        let (creq, signed) = canonical_request(&input, AMZ_DATE, None);
        assert_eq!(signed, "content-type;host;x-amz-date");
        let want = format!(
            "POST\n/token\naws_iam=t\ncontent-type:application/json\nhost:oidc.us-east-1.amazonaws.com\nx-amz-date:{AMZ_DATE}\n\n{signed}\n{}",
            hex(&Sha256::digest(body))
        );
        assert_eq!(creq, want);
        let auth = authorization(&input, &creds(None), "us-east-1", "sso-oauth", AMZ_DATE);
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sso-oauth/aws4_request, ")
        );
    }

    #[test]
    fn encoding_and_debug() {
        assert_eq!(uri_encode("a b/c~d*é", true), "a%20b/c~d%2A%C3%A9");
        assert_eq!(uri_encode("a/b=c", false), "a%2Fb%3Dc");
        let shown = format!("{:?}", creds(Some("tok")));
        assert!(!shown.contains("wJalr") && !shown.contains("AKIDEXAMPLE") && !shown.contains("tok\""), "{shown}");
    }
}
