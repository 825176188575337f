//! The fake's own SigV4 verifier, written apart from the binary's signer (src/sigv4.rs) so that a
//! wrong canonical request on either side makes the tests fail. It recomputes the signature from
//! the request as received: the signed headers as they arrived, the raw path, the query, and the
//! SHA-256 of the body.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthHeader {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

pub fn parse_authorization(value: &str) -> Option<AuthHeader> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut fields = BTreeMap::new();
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        fields.insert(k, v);
    }
    let scope: Vec<&str> = fields.get("Credential")?.split('/').collect();
    let [access_key, date, region, service, "aws4_request"] = scope[..] else { return None };
    Some(AuthHeader {
        access_key: access_key.into(),
        date: date.into(),
        region: region.into(),
        service: service.into(),
        signed_headers: fields.get("SignedHeaders")?.split(';').map(str::to_owned).collect(),
        signature: fields.get("Signature")?.to_string(),
    })
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The canonical request from a received request. `headers` are lower-cased names; `query` decoded.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
    signed: &[String],
    body: &[u8],
) -> String {
    let mut q: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
    q.sort();
    let mut canonical_headers = String::new();
    for name in signed {
        let value = headers.get(name).map(|v| v.split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_default();
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{}\n{}",
        q.join("&"),
        signed.join(";"),
        hex(&Sha256::digest(body))
    )
}

pub fn signature(secret: &str, amz_date: &str, auth: &AuthHeader, creq: &str) -> String {
    let scope = format!("{}/{}/{}/aws4_request", auth.date, auth.region, auth.service);
    let sts = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(creq.as_bytes())));
    let mut key = mac(format!("AWS4{secret}").as_bytes(), &auth.date);
    for part in [auth.region.as_str(), auth.service.as_str(), "aws4_request"] {
        key = mac(&key, part);
    }
    hex(&mac(&key, &sts))
}

#[test]
fn the_fake_verifier_reproduces_the_aws_suite() {
    // get-vanilla-query-order-key-case and post-x-www-form-urlencoded of the AWS SigV4 test suite.
    let headers: BTreeMap<String, String> = [
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
        ("content-type", "application/x-www-form-urlencoded"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let auth = |signed: &str| AuthHeader {
        access_key: "AKIDEXAMPLE".into(),
        date: "20150830".into(),
        region: "us-east-1".into(),
        service: "service".into(),
        signed_headers: signed.split(';').map(str::to_owned).collect(),
        signature: String::new(),
    };
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let query: BTreeMap<String, String> =
        [("Param2", "value2"), ("Param1", "value1")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    let a = auth("host;x-amz-date");
    let creq = canonical_request("GET", "/", &query, &headers, &a.signed_headers, b"");
    assert_eq!(
        signature(secret, "20150830T123600Z", &a, &creq),
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
    );
    let a = auth("content-type;host;x-amz-date");
    let creq = canonical_request("POST", "/", &BTreeMap::new(), &headers, &a.signed_headers, b"Param1=value1");
    assert_eq!(
        signature(secret, "20150830T123600Z", &a, &creq),
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
    );
    let parsed = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
    )
    .unwrap();
    assert_eq!(parsed, AuthHeader { signature: "abc".into(), ..auth("host;x-amz-date") });
}
