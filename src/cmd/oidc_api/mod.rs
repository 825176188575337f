//! The low-level SSO OIDC commands (docs/oidc-api.md, docs/sso-services.md): `create-token`, `create-token-with-iam`,
//! `register-client` and `start-device-authorization`, as the AWS CLI's `aws sso-oidc` offers
//! them. Each builds the request from `--cli-input-json` / `--cli-input-yaml` with the flags laid
//! over it (flags win), checks the required members, calls the service and prints its JSON answer
//! as it came. `--generate-cli-skeleton` prints a skeleton and calls nothing.
//!
//! The printed response of the token calls holds tokens: that is the command's output, as with
//! the AWS CLI. Nothing else here prints a request or response value; errors name members, not
//! their values.

mod iam;
mod yaml;

use crate::cli::ApiArgs;
use crate::cli::TargetArgs;
use crate::config::ConfigError;
use crate::context::Context;
use crate::endpoints::{Endpoint, EndpointError, Service};
use crate::error::Error;
use clap::CommandFactory;

use crate::oidc::{IamSigning, Oidc};

use serde::Serialize;
use serde_json::{Map, Value, json};

/// One member of an operation's input shape. Members are not listed here: each is one of the
/// command's `Request` flags in `cli/oidc_api.rs` (its one description: flag, help, one value or a list), and
/// its key is the flag's name in camelCase, the model's member name (`--client-id` is `clientId`).
/// `start-device-authorization` takes `startUrl` from the global `--start-url`.
#[derive(Debug, Clone)]
pub struct Member {
    pub key: String,
    pub flag: String,
    /// The clap id the value is read under.
    id: String,
    pub list: bool,
    pub required: bool,
    /// The flag's short help, for the YAML skeleton's comment.
    pub doc: String,
}

pub struct Operation {
    pub name: &'static str,
    pub command: &'static str,
    pub path: &'static str,
    /// SigV4-signed (CreateTokenWithIAM) rather than unsigned.
    pub signed: bool,
    /// The members the model requires (their flags are optional: --cli-input-json may give them).
    pub required: &'static [&'static str],
    /// The grant types `grantType` accepts; each may also be given as its last `:` part.
    pub grant_types: &'static [&'static str],
    /// The sample response of `--generate-cli-skeleton output` (botocore's skeleton generator).
    pub sample_output: fn() -> Value,
}

impl Operation {
    /// The request members, in the model's order: the command's `Request` flags as declared.
    pub fn members(&self) -> Vec<Member> {
        let cli = crate::cli::Cli::command();
        let Some(sub) = cli.find_subcommand(self.command) else { return Vec::new() };
        let mut members: Vec<Member> = sub
            .get_arguments()
            .filter(|arg| arg.get_help_heading() == Some("Request"))
            .filter_map(|arg| {
                let long = arg.get_long()?;
                let key = camel_case(long);
                Some(Member {
                    required: self.required.contains(&key.as_str()),
                    flag: format!("--{long}"),
                    id: arg.get_id().to_string(),
                    list: matches!(arg.get_action(), clap::ArgAction::Append),
                    doc: arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
                    key,
                })
            })
            .collect();
        if self.name == "StartDeviceAuthorization" {
            members.push(Member {
                key: "startUrl".to_owned(),
                flag: "--start-url".to_owned(),
                id: "start_url".to_owned(),
                list: false,
                required: self.required.contains(&"startUrl"),
                doc: "The URL for the AWS access portal (the global --start-url)".to_owned(),
            });
        }
        members
    }
}

/// `client-id` -> `clientId`.
fn camel_case(flag: &str) -> String {
    let mut out = String::with_capacity(flag.len());
    let mut upper = false;
    for c in flag.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The values of the members' flags as given on the command line, by member key: one string, or a
/// list split on white space (OAuth scope strings are space-delimited); `None` for a flag not given.
pub fn flag_values(members: &[Member], matches: &clap::ArgMatches) -> Vec<(String, Option<Value>)> {
    members
        .iter()
        .map(|m| {
            let raw: Vec<String> = matches
                .try_get_raw(&m.id)
                .ok()
                .flatten()
                .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            let value = if raw.is_empty() {
                None
            } else if m.list {
                Some(Value::Array(raw.iter().flat_map(|s| s.split_whitespace()).map(Value::from).collect()))
            } else {
                raw.into_iter().next().map(Value::String)
            };
            (m.key.clone(), value)
        })
        .collect()
}

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

pub const CREATE_TOKEN: Operation = Operation {
    name: "CreateToken",
    command: "create-token",
    path: "/token",
    signed: false,
    required: &["clientId", "clientSecret", "grantType"],
    grant_types: &["authorization_code", "refresh_token", DEVICE_CODE_GRANT],
    sample_output: || {
        json!({"accessToken": "accessToken", "tokenType": "tokenType", "expiresIn": 0,
               "refreshToken": "refreshToken", "idToken": "idToken"})
    },
};

pub const CREATE_TOKEN_WITH_IAM: Operation = Operation {
    name: "CreateTokenWithIAM",
    command: "create-token-with-iam",
    path: "/token",
    signed: true,
    required: &["clientId", "grantType"],
    grant_types: &["authorization_code", "refresh_token", JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT],
    sample_output: || {
        json!({"accessToken": "accessToken", "tokenType": "tokenType", "expiresIn": 0,
               "refreshToken": "refreshToken", "idToken": "idToken", "issuedTokenType": "issuedTokenType",
               "scope": ["Scope"], "awsAdditionalDetails": {"identityContext": "identityContext"}})
    },
};

pub const REGISTER_CLIENT: Operation = Operation {
    name: "RegisterClient",
    command: "register-client",
    path: "/client/register",
    signed: false,
    required: &["clientName", "clientType"],
    grant_types: &[],
    sample_output: || {
        json!({"clientId": "clientId", "clientSecret": "clientSecret", "clientIdIssuedAt": 0,
               "clientSecretExpiresAt": 0, "authorizationEndpoint": "authorizationEndpoint",
               "tokenEndpoint": "tokenEndpoint"})
    },
};

pub const START_DEVICE_AUTHORIZATION: Operation = Operation {
    name: "StartDeviceAuthorization",
    command: "start-device-authorization",
    path: "/device_authorization",
    signed: false,
    required: &["clientId", "clientSecret", "startUrl"],
    grant_types: &[],
    sample_output: || {
        json!({"deviceCode": "deviceCode", "userCode": "userCode", "verificationUri": "verificationUri",
               "verificationUriComplete": "verificationUriComplete", "expiresIn": 0, "interval": 0})
    },
};

#[cfg(test)]
pub const OPERATIONS: [&Operation; 4] =
    [&CREATE_TOKEN, &CREATE_TOKEN_WITH_IAM, &REGISTER_CLIENT, &START_DEVICE_AUTHORIZATION];

/// Runs one command: `api` and `matches` are what was typed after its name (the members' flags are
/// read from `matches`, by the members `op.members()` finds). `source_profile` is
/// create-token-with-iam's `--source-profile`.
pub fn run(
    ctx: &Context,
    spec: &TargetArgs,
    op: &Operation,
    api: &ApiArgs,
    matches: &clap::ArgMatches,
    source_profile: Option<&str>,
) -> Result<u8, Error> {
    let members = op.members();
    if let Some(kind) = &api.generate_cli_skeleton {
        out!("{}", skeleton(&members, kind, op));
        return Ok(0);
    }
    let input = read_input(ctx, api)?;
    let body = request_body(op, &members, input, flag_values(&members, matches))?;
    let region = region(ctx, spec)?;
    let endpoint = endpoint(ctx, spec, api, region.as_deref(), op)?;
    let oidc = Oidc { http: ctx.http(), endpoint };
    let response = if op.signed {
        let Some(region) = region.as_deref() else { return Err(no_region(ctx, spec, op)) };
        let resolved = iam::resolve(ctx, spec, source_profile)?;
        ctx.debug(|| format!("signing {} with credentials from {}", op.name, resolved.source));
        oidc.create_token_with_iam(&body, &IamSigning { credentials: &resolved.credentials, region, now: ctx.now() })?
    } else {
        oidc.call(op.name, op.path, &body)?
    };
    outln!("{}", pretty(&Value::Object(response)));
    Ok(0)
}

/// JSON the way the AWS CLI prints it: four-space indentation, members in the order received.
fn pretty(value: &Value) -> String {
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"    "));
    // Serialising a Value into memory cannot fail.
    let _ = value.serialize(&mut ser);
    String::from_utf8(out).unwrap_or_default()
}

/// `--generate-cli-skeleton KIND`, with a final newline.
pub fn skeleton(members: &[Member], kind: &str, op: &Operation) -> String {
    match kind {
        "output" => pretty(&(op.sample_output)()) + "\n",
        "yaml-input" => {
            let mut out = String::new();
            for m in members {
                let note = if m.required { format!("[REQUIRED] {}", m.doc) } else { m.doc.to_owned() };
                if m.list {
                    out.push_str(&format!("{}: # {note}\n- ''\n", m.key));
                } else {
                    out.push_str(&format!("{}: '' # {note}\n", m.key));
                }
            }
            out
        }
        _ => {
            let doc: Map<String, Value> =
                members.iter().map(|m| (m.key.to_owned(), if m.list { json!([""]) } else { json!("") })).collect();
            pretty(&Value::Object(doc)) + "\n"
        }
    }
}

/// A `--cli-input-json` / `--cli-input-yaml` document and the flag that gave it.
struct Input {
    flag: &'static str,
    doc: Map<String, Value>,
}

/// The largest `--cli-input-json` / `--cli-input-yaml` file read (real ones are a few hundred bytes).
const INPUT_LIMIT: u64 = 1 << 20;

/// The `--cli-input-json` / `--cli-input-yaml` document, when one was given.
fn read_input(ctx: &Context, api: &ApiArgs) -> Result<Option<Input>, Error> {
    let (flag, value, is_yaml) = match (&api.cli_input_json, &api.cli_input_yaml) {
        (Some(v), _) => ("--cli-input-json", v.expose(), false),
        (None, Some(v)) => ("--cli-input-yaml", v.expose(), true),
        (None, None) => return Ok(None),
    };
    let text = match value.strip_prefix("file://").or_else(|| value.strip_prefix("fileb://")) {
        Some(path) => {
            let path = ctx.expand(path);
            let cannot = |why: String| Error::Usage(format!("{flag}: cannot read {}: {why}", path.display()));
            // A regular file of at most 1 MiB (a FIFO or /dev/zero must not hang or fill memory).
            let bytes = crate::cache::read_bounded(&path, INPUT_LIMIT)
                .map_err(|e| cannot(e.into_io().to_string()))?
                .ok_or_else(|| cannot("no such file".to_owned()))?;
            String::from_utf8(bytes).map_err(|_| cannot("it is not UTF-8 text".to_owned()))?
        }
        None => value.to_owned(),
    };
    let doc = if is_yaml {
        yaml::parse_flat(&text).map_err(|e| Error::Usage(format!("{flag} is not YAML this tool reads: {e}")))?
    } else {
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(Error::Usage(format!("{flag} must be a JSON object"))),
            // serde_json's message gives line and column, never the text itself.
            Err(e) => return Err(Error::Usage(format!("{flag} is not valid JSON: {e}"))),
        }
    };
    Ok(Some(Input { flag, doc }))
}

/// The request body: input members, then flags over them, in the model's member order.
fn request_body(
    op: &Operation,
    members: &[Member],
    input: Option<Input>,
    flags: Vec<(String, Option<Value>)>,
) -> Result<Value, Error> {
    let Input { flag: flag_name, doc: mut input } =
        input.unwrap_or(Input { flag: "--cli-input-json", doc: Map::new() });
    if let Some(unknown) = input.keys().find(|k| !members.iter().any(|m| m.key == k.as_str())) {
        let valid: Vec<&str> = members.iter().map(|m| m.key.as_str()).collect();
        return Err(Error::Usage(format!(
            "unknown parameter {:?} in {flag_name}; {} takes {}",
            crate::sanitize::sanitize(unknown),
            op.command,
            valid.join(", ")
        )));
    }
    let mut body = Map::new();
    for m in members {
        let from_flag = flags.iter().find(|(k, _)| *k == m.key).and_then(|(_, v)| v.clone());
        let value = match from_flag {
            Some(v) => v,
            None => match input.remove(&m.key) {
                None | Some(Value::Null) => continue,
                Some(v) => checked(m, v, flag_name)?,
            },
        };
        body.insert(m.key.to_owned(), value);
    }
    if let Some(m) = members.iter().find(|m| m.required && !body.contains_key(&m.key)) {
        return Err(Error::Usage(format!(
            "{} needs {} (or {} in --cli-input-json / --cli-input-yaml)",
            op.command, m.flag, m.key
        )));
    }
    normalize_grant_type(op, &mut body)?;
    Ok(Value::Object(body))
}

/// An input value of the member's type (names the member, never shows the value).
fn checked(m: &Member, v: Value, flag_name: &str) -> Result<Value, Error> {
    let fits = match &v {
        Value::String(_) => !m.list,
        Value::Array(items) => m.list && items.iter().all(Value::is_string),
        _ => false,
    };
    if fits {
        Ok(v)
    } else {
        let want = if m.list { "a list of strings" } else { "a string" };
        Err(Error::Usage(format!("{} in {flag_name} must be {want}", m.key)))
    }
}

/// Expands a short grant type (`device_code`, `jwt-bearer`, `token-exchange`) to its URN and
/// rejects unknown ones. An empty value (a skeleton placeholder) goes to the service as it is.
fn normalize_grant_type(op: &Operation, body: &mut Map<String, Value>) -> Result<(), Error> {
    if op.grant_types.is_empty() {
        return Ok(());
    }
    let Some(Value::String(grant)) = body.get_mut("grantType") else { return Ok(()) };
    if grant.is_empty() {
        return Ok(());
    }
    match op.grant_types.iter().find(|full| **full == grant.as_str() || full.rsplit(':').next() == Some(grant.as_str()))
    {
        Some(full) => {
            *grant = (*full).to_owned();
            Ok(())
        }
        None => Err(Error::Usage(format!(
            "unknown grant type {:?} for {}; use one of: {}",
            crate::sanitize::sanitize(grant),
            op.command,
            op.grant_types.join(", ")
        ))),
    }
}

/// The AWS CLI's region order: --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`.
fn region(ctx: &Context, spec: &TargetArgs) -> Result<Option<String>, Error> {
    if let Some(r) = spec.region.clone().or_else(|| ctx.env.get("AWS_REGION").map(str::to_owned)) {
        return Ok(Some(r));
    }
    if let Some(r) = ctx.env.get("AWS_DEFAULT_REGION") {
        return Ok(Some(r.to_owned()));
    }
    let name = ctx.profile_name(spec);
    match ctx.config()?.profile(&name) {
        Some(p) => Ok(p.get("region").filter(|r| !r.is_empty()).map(str::to_owned)),
        None if spec.profile.is_some() => Err(ConfigError::ProfileNotFound { profile: name }.into()),
        None => Ok(None),
    }
}

fn endpoint(
    ctx: &Context,
    spec: &TargetArgs,
    api: &ApiArgs,
    region: Option<&str>,
    op: &Operation,
) -> Result<Endpoint, Error> {
    let profile = ctx.profile_name(spec);
    if let Some(url) = &api.endpoint_url {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(Error::Usage(format!("--endpoint-url {url:?} is not an http(s) URL")));
        }
        let settings = ctx.config()?.profile(&profile);
        let ca_bundle = crate::target::ca_bundle(ctx, settings)?;
        return Ok(Endpoint { url: url.trim_end_matches('/').to_owned(), ca_bundle });
    }
    let settings = crate::target::endpoint_settings(
        ctx,
        Some(&profile).filter(|p| ctx.config().is_ok_and(|c| c.profile(p).is_some())).map(String::as_str),
    );
    match settings.endpoint(Service::Oidc, region.unwrap_or("")) {
        Err(EndpointError::MissingRegion) => Err(no_region(ctx, spec, op)),
        other => Ok(other?),
    }
}

fn no_region(ctx: &Context, spec: &TargetArgs, op: &Operation) -> Error {
    Error::Other {
        what: format!("{} needs a region: none given and profile {} has no region", op.command, ctx.profile_name(spec)),
        hint: Some("pass --region (e.g. --region us-east-1), or set AWS_REGION or the profile's region".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::CommandFactory;

    #[test]
    fn every_operation_finds_its_members_and_its_required_ones() {
        let _ = Cli::command();
        for op in OPERATIONS {
            let members = op.members();
            assert!(!members.is_empty(), "{}", op.command);
            for required in op.required {
                assert!(members.iter().any(|m| m.key == *required && m.required), "{} {required}", op.command);
            }
            assert!(members.iter().all(|m| !m.doc.is_empty()), "{}: every member flag has help", op.command);
        }
        let keys: Vec<String> = CREATE_TOKEN.members().into_iter().map(|m| m.key).collect();
        assert_eq!(
            keys,
            [
                "clientId",
                "clientSecret",
                "grantType",
                "deviceCode",
                "code",
                "refreshToken",
                "scope",
                "redirectUri",
                "codeVerifier"
            ]
        );
        let start = START_DEVICE_AUTHORIZATION.members();
        assert_eq!(start.last().map(|m| m.key.as_str()), Some("startUrl"));
        assert!(CREATE_TOKEN.members().iter().any(|m| m.key == "scope" && m.list));
    }

    #[test]
    fn skeletons() {
        let sk = |op: &Operation, kind: &str| skeleton(&op.members(), kind, op);
        let input: Value = serde_json::from_str(&sk(&CREATE_TOKEN, "input")).unwrap();
        let keys: Vec<&str> = input.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, CREATE_TOKEN.members().iter().map(|m| m.key.as_str()).collect::<Vec<_>>());
        assert_eq!(input["scope"], json!([""]));
        assert!(sk(&CREATE_TOKEN, "input").starts_with("{\n    \"clientId\": \"\",\n"));
        for op in OPERATIONS {
            let yaml_doc = yaml::parse_flat(&sk(op, "yaml-input")).unwrap();
            let json_doc: Value = serde_json::from_str(&sk(op, "input")).unwrap();
            assert_eq!(Value::Object(yaml_doc), json_doc, "{}", op.command);
        }
        let out: Value = serde_json::from_str(&sk(&CREATE_TOKEN_WITH_IAM, "output")).unwrap();
        assert_eq!(out["awsAdditionalDetails"]["identityContext"], "identityContext");
    }

    fn flags(pairs: &[(&'static str, Value)]) -> Vec<(String, Option<Value>)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Some(v.clone()))).collect()
    }

    #[test]
    fn flags_win_over_input_and_order_follows_the_model() {
        let input: Map<String, Value> = serde_json::from_value(json!({
            "refreshToken": "from-input", "grantType": "refresh_token", "clientSecret": "s", "clientId": "input-id",
            "scope": ["a"], "code": null
        }))
        .unwrap();
        let body = request_body(
            &CREATE_TOKEN,
            &CREATE_TOKEN.members(),
            Some(Input { flag: "--cli-input-json", doc: input }),
            flags(&[("clientId", json!("flag-id")), ("scope", json!(["b", "c"]))]),
        )
        .unwrap();
        assert_eq!(
            body.to_string(),
            r#"{"clientId":"flag-id","clientSecret":"s","grantType":"refresh_token","refreshToken":"from-input","scope":["b","c"]}"#
        );
    }

    #[test]
    fn bad_requests_are_usage_errors() {
        let run = |input: Value, f: &[(&'static str, Value)]| {
            let input = serde_json::from_value(input).unwrap();
            match request_body(
                &CREATE_TOKEN,
                &CREATE_TOKEN.members(),
                Some(Input { flag: "--cli-input-json", doc: input }),
                flags(f),
            ) {
                Err(Error::Usage(msg)) => msg,
                other => panic!("{other:?}"),
            }
        };
        let base = json!({"clientId": "i", "clientSecret": "s", "grantType": "refresh_token"});
        assert!(run(json!({"clientId": "i"}), &[]).contains("needs --client-secret"));
        assert!(run(json!({"clientSecretX": "s"}), &[]).contains("unknown parameter \"clientSecretX\""));
        assert!(run(json!({"clientId": 5}), &[]).contains("clientId in --cli-input-json must be a string"));
        assert!(run(json!({"scope": "a"}), &[]).contains("must be a list of strings"));
        assert!(run(base.clone(), &[("grantType", json!("password"))]).contains("unknown grant type \"password\""));
    }

    #[test]
    fn short_grant_types_expand() {
        let body = |op: &Operation, grant: &str, id: &'static str| {
            let f = flags(&[("clientId", json!(id)), ("clientSecret", json!("s")), ("grantType", json!(grant))]);
            request_body(op, &op.members(), None, f).unwrap()["grantType"].as_str().unwrap().to_owned()
        };
        assert_eq!(body(&CREATE_TOKEN, "device_code", "i"), DEVICE_CODE_GRANT);
        assert_eq!(body(&CREATE_TOKEN, DEVICE_CODE_GRANT, "i"), DEVICE_CODE_GRANT);
        assert_eq!(body(&CREATE_TOKEN, "refresh_token", "i"), "refresh_token");
        assert_eq!(body(&CREATE_TOKEN_WITH_IAM, "jwt-bearer", "arn"), JWT_BEARER_GRANT);
        assert_eq!(body(&CREATE_TOKEN_WITH_IAM, "token-exchange", "arn"), TOKEN_EXCHANGE_GRANT);
        assert_eq!(body(&CREATE_TOKEN, "", "i"), "", "a skeleton placeholder is sent as it is");
        let f = flags(&[("clientId", json!("i")), ("clientSecret", json!("s")), ("grantType", json!("jwt-bearer"))]);
        assert!(
            request_body(&CREATE_TOKEN, &CREATE_TOKEN.members(), None, f).is_err(),
            "jwt-bearer is not a CreateToken grant"
        );
    }
}
