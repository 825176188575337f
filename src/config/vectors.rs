//! The AWS SDKs' own profile-file test suites, run through our reader and held to botocore's
//! reading of each case (docs/config-file.md, "Test suites written elsewhere"). The suites and their
//! sources are in `tests/data/vectors/` (see NOTICE.md there); botocore's answers were written by
//! `scripts/botocore-vectors.py` into `tests/data/vectors/botocore-answers.json`.
//!
//! Every case: our answer is botocore's (but for the inline comments we cut on purpose, where it is
//! the suite's), and the suite's expected answer is botocore's but for the cases listed in
//! `SUITE_DIFFERS`, each with its reason. Both lists are checked both ways: a listed case that no
//! longer differs fails the test too.

use super::*;
use serde_json::{Map, Value as Json, json};

const CONFIG: &str = "/h/.aws/config";
const CREDS: &str = "/h/.aws/credentials";

const SMITHY: &str = include_str!("../../tests/data/vectors/smithy-rs/profile-parser-tests.json");
const KOTLIN: &str = include_str!("../../tests/data/vectors/aws-sdk-kotlin/parser-tests.json");
const LOCATIONS: &str = include_str!("../../tests/data/vectors/smithy-rs/file-location-tests.json");
const BOTOCORE_CASES: &str = include_str!("../../tests/data/vectors/botocore/cases.json");
const ANSWERS: &str = include_str!("../../tests/data/vectors/botocore-answers.json");
const GO_NESTED: &str = include_str!("../../tests/data/vectors/aws-sdk-go-v2/nested_fields");
const GO_NESTED_EXPECTED: &str = include_str!("../../tests/data/vectors/aws-sdk-go-v2/nested_fields_expected");

/// botocore's `tests/unit/cfg` files, by the name `cases.json` gives them.
const CFG: [(&str, &[u8]); 8] = [
    ("cfg/aws_config", include_bytes!("../../tests/data/vectors/botocore/cfg/aws_config")),
    ("cfg/aws_bad_profile", include_bytes!("../../tests/data/vectors/botocore/cfg/aws_bad_profile")),
    ("cfg/aws_config_bad", include_bytes!("../../tests/data/vectors/botocore/cfg/aws_config_bad")),
    ("cfg/aws_config_badbytes", include_bytes!("../../tests/data/vectors/botocore/cfg/aws_config_badbytes")),
    ("cfg/aws_config_nested", include_bytes!("../../tests/data/vectors/botocore/cfg/aws_config_nested")),
    ("cfg/aws_config_nested_bad", include_bytes!("../../tests/data/vectors/botocore/cfg/aws_config_nested_bad")),
    ("cfg/aws_services_config", include_bytes!("../../tests/data/vectors/botocore/cfg/aws_services_config")),
    ("cfg/aws_sso_session_config", include_bytes!("../../tests/data/vectors/botocore/cfg/aws_sso_session_config")),
];

/// Where the shared suite (smithy-rs's and the Kotlin SDK's copy) and botocore disagree: botocore
/// wins. (suite, case name, why).
const SUITE_DIFFERS: &[(&str, &str, &str)] = &[
    (
        "smithy-rs",
        "Profile names support alphanumeric characters and - / . % @ _ : +",
        "botocore takes any profile name ([profile foo!bar] too)",
    ),
    (
        "smithy-rs",
        "Property definitions must contain an equals sign.",
        "configparser takes ':' as a delimiter as well as '='",
    ),
    (
        "kotlin",
        "Property definitions must contain an equals sign.",
        "configparser takes ':' as a delimiter as well as '='",
    ),
    (
        "smithy-rs",
        "Duplicate profiles in the same file merge properties.",
        "configparser (strict) refuses a duplicate section in one file",
    ),
    (
        "kotlin",
        "Duplicate profiles in the same file merge properties.",
        "configparser (strict) refuses a duplicate section in one file",
    ),
    (
        "smithy-rs",
        "Duplicate properties in a profile use the last one defined.",
        "configparser (strict) refuses a duplicate key in one section",
    ),
    (
        "kotlin",
        "Duplicate properties in a profile use the last one defined.",
        "configparser (strict) refuses a duplicate key in one section",
    ),
    (
        "smithy-rs",
        "Duplicate properties in duplicate profiles use the last one defined.",
        "configparser (strict) refuses a duplicate section",
    ),
    (
        "kotlin",
        "Duplicate properties in duplicate profiles use the last one defined.",
        "configparser (strict) refuses a duplicate section",
    ),
    (
        "smithy-rs",
        "Duplicate properties in duplicate profiles use the last one defined (case insensitive).",
        "configparser (strict) refuses a duplicate section",
    ),
    (
        "smithy-rs",
        "Default profiles with mixed prefixes in the config file ignore the one without prefix when merging.",
        "configparser (strict) refuses the repeated [profile default]",
    ),
    (
        "kotlin",
        "Default profiles with mixed prefixes in the config file ignore the one without prefix when merging.",
        "configparser (strict) refuses the repeated [profile default]",
    ),
    (
        "smithy-rs",
        "Default profiles with mixed prefixes merge with credentials",
        "configparser (strict) refuses the repeated [profile default]",
    ),
    (
        "kotlin",
        "Default profiles with mixed prefixes merge with credentials",
        "configparser (strict) refuses the repeated [profile default]",
    ),
    (
        "smithy-rs",
        "Default profile with profile prefix overrides default profile without prefix when profile prefix is first.",
        "botocore: the later of [default] and [profile default] wins",
    ),
    (
        "kotlin",
        "Default profile with profile prefix overrides default profile without prefix when profile prefix is first.",
        "botocore: the later of [default] and [profile default] wins",
    ),
    (
        "smithy-rs",
        "Invalid profile names are ignored.",
        "credentials-file section names are kept verbatim, spaces included",
    ),
    ("smithy-rs", "Invalid property names are ignored.", "botocore takes any key, spaces included"),
    ("kotlin", "Invalid property names are ignored.", "botocore takes any key, spaces included"),
    (
        "kotlin",
        "All valid property name characters are supported.",
        "keys are lower-cased (configparser's optionxform)",
    ),
    (
        "smithy-rs",
        "Properties can have sub-properties.",
        "the Rust suite keeps a block as raw text; botocore parses it into a map (as the Kotlin copy does)",
    ),
    (
        "smithy-rs",
        "Sub-property definitions can have an empty value.",
        "the Rust suite keeps a block as raw text; botocore parses it into a map",
    ),
    (
        "smithy-rs",
        "Sub-property definitions can have an invalid name.",
        "the Rust suite keeps a block as raw text; botocore parses it into a map",
    ),
    (
        "smithy-rs",
        "Sub-properties can have blank lines that are ignored",
        "the Rust suite keeps a block as raw text; botocore parses it into a map",
    ),
    (
        "smithy-rs",
        "Sub-property definitions cannot have an empty name.",
        "botocore's block parser splits on the first '=' and takes the key \"\"",
    ),
    (
        "kotlin",
        "Sub-property definitions cannot have an empty name.",
        "botocore's block parser splits on the first '=' and takes the key \"\"",
    ),
    ("kotlin", "Sub-property definitions ignore invalid name.", "botocore takes any block key, spaces included"),
    (
        "smithy-rs",
        "Credentials profiles with prefix are ignored.",
        "credentials-file section names are kept verbatim: [profile foo] is the profile 'profile foo'",
    ),
    (
        "smithy-rs",
        "profile name with extra whitespace",
        "a header is read as written: '[   profile foo    ]' does not start with the 'profile' keyword",
    ),
    (
        "kotlin",
        "profile name with extra whitespace",
        "a header is read as written: '[   profile foo    ]' does not start with the 'profile' keyword",
    ),
    (
        "kotlin",
        "SSO session name with extra whitespace",
        "a header is read as written: '[   sso-session foo    ]' does not start with the keyword",
    ),
    (
        "smithy-rs",
        "profile name with extra whitespace in credentials",
        "credentials-file section names are kept verbatim, spaces included",
    ),
    (
        "kotlin",
        "profile name with extra whitespace in credentials",
        "credentials-file section names are kept verbatim, spaces included",
    ),
    (
        "kotlin",
        "SSO Session in credentials file is invalid",
        "botocore reads every credentials-file section as a profile named as written",
    ),
];

/// Where we knowingly differ from botocore (docs/config-file.md): we cut an inline comment after
/// white space, with a warning; botocore keeps it in the value. Here our answer is the suite's.
const WE_DIFFER: &[(&str, &str)] = &[
    ("smithy-rs", "Pound sign comments are ignored."),
    ("smithy-rs", "Semicolon sign comments are ignored."),
    ("smithy-rs", "All comment types can be used together."),
    ("smithy-rs", "Comments can be empty."),
    ("kotlin", "Pound sign comments are ignored."),
    ("kotlin", "Semicolon sign comments are ignored."),
    ("kotlin", "All comment types can be used together."),
    ("kotlin", "Comments can be empty."),
];

/// Our reading as botocore's session shows it: profiles (the credentials file laid over them key by
/// key), sso-sessions and services, or `{"error": true}`. Each profile is also read through the
/// scoped parse (the cache hit's), which must give the same section.
fn ours(config: &[u8], credentials: &[u8]) -> Json {
    let (config_path, creds_path) = (Path::new(CONFIG), Path::new(CREDS));
    let (Ok(config), Ok(credentials)) = (decode(config_path, config), decode(creds_path, credentials)) else {
        return json!({"error": true});
    };
    let Ok(whole) = Config::parse(config_path, config, creds_path, credentials) else {
        return json!({"error": true});
    };
    for name in whole.profiles.keys() {
        let scoped = Config::parse_scoped(config_path, config, creds_path, credentials, Scope::Profiles(&[name]))
            .unwrap_or_else(|e| panic!("the scoped parse fails where the whole one does not: {e}"));
        assert_eq!(scoped.profiles.get(name), whole.profiles.get(name), "profile {name:?}");
        assert_eq!(scoped.sso_sessions, whole.sso_sessions);
        assert_eq!(scoped.services, whole.services);
    }
    let sections = |map: &BTreeMap<String, Section>| -> Json {
        let mut out = Map::new();
        for (name, section) in map {
            let values = section.values.iter().map(|(k, v)| {
                let v = match v {
                    super::Value::Text(t) => json!(t),
                    super::Value::Nested(m) => json!(m),
                };
                (k.clone(), v)
            });
            out.insert(name.clone(), Json::Object(values.collect()));
        }
        Json::Object(out)
    };
    json!({
        "profiles": sections(&whole.profiles),
        "sso_sessions": sections(&whole.sso_sessions),
        "services": sections(&whole.services),
    })
}

/// The parts of `answer` a suite's expected output speaks of, in the suite's layout.
fn suite_view(expected: &Json, answer: &Json) -> (Json, Json) {
    let expected = expected.get("config").unwrap_or(expected);
    if expected.get("errorContaining").is_some() {
        let got = if answer.get("error").is_some() { json!({"error": true}) } else { answer.clone() };
        return (json!({"error": true}), got);
    }
    let (mut want, mut got) = (Map::new(), Map::new());
    for (key, ours) in [("profiles", "profiles"), ("sso_sessions", "sso_sessions"), ("sso-sessions", "sso_sessions")]
        .into_iter()
        .chain([("services", "services")])
    {
        if let Some(v) = expected.get(key) {
            want.insert(ours.to_owned(), v.clone());
            got.insert(ours.to_owned(), answer.get(ours).cloned().unwrap_or(json!("error")));
        }
    }
    (Json::Object(want), Json::Object(got))
}

fn answers() -> Vec<Json> {
    let doc: Json = serde_json::from_str(ANSWERS).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn botocore_answer<'a>(answers: &'a [Json], suite: &str, index: usize) -> &'a Json {
    let case = answers.iter().find(|c| c["suite"] == suite && c["index"] == index);
    &case.unwrap_or_else(|| panic!("no botocore answer for {suite} #{index}"))["answer"]
}

#[test]
fn the_sdks_profile_parser_suites_read_as_botocore_reads_them() {
    let answers = answers();
    let mut seen_differs = Vec::new();
    let mut seen_ours = Vec::new();
    let mut count = 0;
    for (short, file, text) in [
        ("smithy-rs", "smithy-rs/profile-parser-tests.json", SMITHY),
        ("kotlin", "aws-sdk-kotlin/parser-tests.json", KOTLIN),
    ] {
        let doc: Json = serde_json::from_str(text).unwrap();
        for (index, case) in doc["tests"].as_array().unwrap().iter().enumerate() {
            let name = case["name"].as_str().unwrap();
            let input = &case["input"];
            let bytes = |key: &str| input[key].as_str().unwrap_or("").as_bytes().to_vec();
            let ours = ours(&bytes("configFile"), &bytes("credentialsFile"));
            let botocore = botocore_answer(&answers, file, index);
            let (suite_says, botocore_says) = suite_view(&case["output"], botocore);
            let context = format!("{short} #{index} {name:?}\ninput: {input}");

            let differs = SUITE_DIFFERS.iter().find(|(s, n, _)| *s == short && *n == name);
            let comments = WE_DIFFER.contains(&(short, name));
            if differs.is_some() || comments {
                assert_ne!(suite_says, botocore_says, "listed as a difference, but the suite agrees: {context}");
                seen_differs.push((short, name.to_owned()));
            } else {
                assert_eq!(suite_says, botocore_says, "the suite and botocore disagree, unlisted: {context}");
            }
            if comments {
                assert_ne!(&ours, botocore, "listed as ours to differ, but it agrees: {context}");
                assert_eq!(suite_view(&case["output"], &ours).1, suite_says, "{context}");
                seen_ours.push((short, name.to_owned()));
            } else {
                assert_eq!(&ours, botocore, "our reader and botocore disagree: {context}");
            }
            count += 1;
        }
    }
    assert!(count >= 130, "{count} cases");
    for (short, name, _) in SUITE_DIFFERS {
        assert!(seen_differs.iter().any(|(s, n)| s == short && n == name), "no case {short} {name:?}");
    }
    for (short, name) in WE_DIFFER {
        assert!(seen_ours.iter().any(|(s, n)| s == short && n == name), "no case {short} {name:?}");
    }
}

#[test]
fn botocore_own_cfg_files_read_as_botocore_reads_them() {
    let answers = answers();
    let doc: Json = serde_json::from_str(BOTOCORE_CASES).unwrap();
    for (index, case) in doc["tests"].as_array().unwrap().iter().enumerate() {
        let file = case["input"]["configFileRef"].as_str().unwrap();
        let (_, bytes) = CFG.iter().find(|(n, _)| *n == file).unwrap_or_else(|| panic!("no file {file}"));
        let ours = ours(bytes, b"");
        let botocore = botocore_answer(&answers, "botocore/cases.json", index);
        assert_eq!(&ours, botocore, "{file}");
        // What botocore's own test asserts holds for both.
        let out = &case["output"];
        if out.get("errorContaining").is_some() {
            assert_eq!(ours, json!({"error": true}), "{file}");
            continue;
        }
        for (key, ours_key) in [("profiles", "profiles"), ("ssoSessions", "sso_sessions"), ("services", "services")] {
            let Some(want) = out.get(key).and_then(Json::as_object) else { continue };
            let got = ours[ours_key].as_object().unwrap();
            if out["namesExact"] == true && key == "profiles" {
                assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{file}");
            }
            for (name, values) in want {
                for (k, v) in values.as_object().unwrap() {
                    let have = &got[name.as_str()][k.as_str()];
                    match v.as_object() {
                        Some(sub) => sub.iter().for_each(|(sk, sv)| assert_eq!(&have[sk.as_str()], sv, "{file} {k}")),
                        None => assert_eq!(have, v, "{file} {name} {k}"),
                    }
                }
            }
        }
    }
}

/// The Go SDK's generic INI reading of a credentials file with sub-properties: botocore (and we)
/// read the indented `[bar]` as a continuation of `aws_session_token`, so there is no `bar`, and
/// `aws_access_key_id` is a block of two keys; the Go parser sees a section `bar`.
#[test]
fn the_go_sdk_nested_fields_read_as_botocore_reads_them() {
    let answers = answers();
    let ours = ours(b"", GO_NESTED.as_bytes());
    assert_eq!(&ours, botocore_answer(&answers, "aws-sdk-go-v2/nested_fields", 0));
    let go: Json = serde_json::from_str(GO_NESTED_EXPECTED).unwrap();
    assert!(go.get("bar").is_some() && ours["profiles"].get("bar").is_none(), "{ours}");
    assert_eq!(ours["profiles"]["baz"], go["baz"], "the sections that are plain agree");
    assert_eq!(
        ours["profiles"]["foo"]["aws_session_token"],
        "valid\n[bar]\naws_access_key_id = valid ; comment\naws_secret_access_key = valid\naws_session_token = valid"
    );
}

/// The shared file-location suite: where the two files are and which profile is used. The
/// Windows cases compile in only on Windows.
#[test]
fn the_sdks_file_location_suite() {
    let doc: Json = serde_json::from_str(LOCATIONS).unwrap();
    let mut ran = 0;
    for case in doc["tests"].as_array().unwrap() {
        let vars: Vec<(&str, &str)> =
            case["environment"].as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap())).collect();
        if !runs_here(case["platform"].as_str().unwrap(), &vars) {
            continue;
        }
        let ctx = crate::context::Context::new(crate::context::Env::from_pairs(&vars), false).unwrap();
        let name = case["name"].as_str().unwrap();
        assert_eq!(ctx.config_path(), Path::new(case["configLocation"].as_str().unwrap()), "{name}");
        assert_eq!(ctx.credentials_path(), Path::new(case["credentialsLocation"].as_str().unwrap()), "{name}");
        if let Some(profile) = case["profile"].as_str() {
            assert_eq!(ctx.profile_name(&crate::cli::TargetArgs::default()), profile, "{name}");
        }
        ran += 1;
    }
    assert!(ran >= 3, "{ran} cases");
}

/// Whether a location case runs on this platform: the Linux ones elsewhere than Windows.
#[cfg(not(windows))]
fn runs_here(platform: &str, _vars: &[(&str, &str)]) -> bool {
    platform != "windows"
}

/// On Windows, the Windows cases that set `HOME`: botocore (Python's `expanduser`) takes the home
/// from `USERPROFILE`, then `HOMEDRIVE` and `HOMEPATH`, never `HOME`; we take `HOME`, else the
/// system's profile folder. Only the cases that set `HOME` are the same for the suite and us.
#[cfg(windows)]
fn runs_here(platform: &str, vars: &[(&str, &str)]) -> bool {
    platform == "windows" && vars.iter().any(|(k, _)| *k == "HOME")
}
