//! Where the two services live (docs/endpoints.md): partitions, FIPS, dual-stack and configured endpoints,
//! and which start URL hosts belong to AWS (docs/login.md).
//!
//! `resolve` is the rule set botocore ships for both `sso-oidc` and `sso` (which differ only in
//! the host prefix), called as botocore's clients call it. Which override a profile configures is read from the config by `target`
//! (`target::configured_endpoint`); this module holds the rules alone.

use crate::network::CaBundle;
use std::fmt;

/// Where and how to reach a service: the resolved base URL and the extra certificate
/// authorities its profile trusts. Reads as the URL (`Display`, `Deref<Target = str>`), so
/// callers that only need the URL treat it as a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Base URL without a trailing slash, e.g. `https://oidc.us-east-1.amazonaws.com`.
    pub url: String,
    pub ca_bundle: Option<CaBundle>,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl std::ops::Deref for Endpoint {
    type Target = str;
    fn deref(&self) -> &str {
        &self.url
    }
}

/// Where a session's calls go, but for the region: the endpoint overrides of both services, the
/// FIPS and dual-stack flags and the CA bundle, resolved once from the environment and the settings
/// profile (`target`). The layers below ask it for an endpoint and never go back to the environment
/// or the config. Problems are kept and reported only when an endpoint is asked for, so a cache hit
/// (which sends nothing) is not failed by a network setting it never uses.
#[derive(Clone)]
pub struct Settings {
    pub oidc: Result<Option<String>, EndpointError>,
    pub portal: Result<Option<String>, EndpointError>,
    /// STS, for roles assumed from an SSO role (docs/chained-roles.md).
    pub sts: Result<Option<String>, EndpointError>,
    pub fips: bool,
    pub dualstack: bool,
    pub ca_bundle: Result<Option<CaBundle>, EndpointError>,
}

/// Override URLs without any user:password they carry (a proxy-style URL can hold one).
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |r: &Result<Option<String>, EndpointError>| match r {
            Ok(url) => format!("{:?}", url.as_deref().map(crate::sanitize::display_url)),
            Err(e) => format!("error: {e}"),
        };
        f.debug_struct("Settings")
            .field("oidc", &shown(&self.oidc))
            .field("portal", &shown(&self.portal))
            .field("sts", &shown(&self.sts))
            .field("fips", &self.fips)
            .field("dualstack", &self.dualstack)
            .field("ca_bundle", &self.ca_bundle)
            .finish()
    }
}

impl Settings {
    /// The endpoint of `service` in `region`: the override, else the partition's rules.
    pub fn endpoint(&self, service: Service, region: &str) -> Result<Endpoint, EndpointError> {
        let custom = match service {
            Service::Oidc => &self.oidc,
            Service::Portal => &self.portal,
            Service::Sts => &self.sts,
        };
        let url = resolve(service, region, self.fips, self.dualstack, custom.clone()?.as_deref())?;
        Ok(Endpoint { url, ca_bundle: self.ca_bundle.clone()? })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Oidc,
    Portal,
    /// STS: regional endpoints (`sts.<region>.amazonaws.com`), as the AWS CLI v2 uses them.
    Sts,
}

impl Service {
    fn prefix(self) -> &'static str {
        match self {
            Service::Oidc => "oidc",
            Service::Portal => "portal.sso",
            Service::Sts => "sts",
        }
    }

    /// The service-specific endpoint variable.
    pub fn env_var(self) -> &'static str {
        match self {
            Service::Oidc => "AWS_ENDPOINT_URL_SSO_OIDC",
            Service::Portal => "AWS_ENDPOINT_URL_SSO",
            Service::Sts => "AWS_ENDPOINT_URL_STS",
        }
    }

    /// Keys of the `[services x]` sub-property block: botocore's snake_case and the Rust SDK's form.
    pub fn services_keys(self) -> &'static [&'static str] {
        match self {
            Service::Oidc => &["sso_oidc", "sso-oidc"],
            Service::Portal => &["sso"],
            Service::Sts => &["sts"],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Service::Oidc => "SSO OIDC",
            Service::Portal => "SSO portal",
            Service::Sts => "STS",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    FipsWithCustom,
    DualstackWithCustom,
    MissingRegion,
    /// Not a host label (botocore checks the same): it would name another host.
    InvalidRegion {
        region: String,
    },
    ServicesSectionMissing {
        profile: String,
        section: String,
    },
    InvalidUrl {
        url: String,
        source_name: String,
    },
    /// `AWS_CA_BUNDLE` or a profile's `ca_bundle` set to nothing (the AWS CLI refuses it since 2.36.6).
    EmptyCaBundle {
        what: String,
        hint: String,
    },
    /// The config could not be read while the endpoint settings were worked out: no override is
    /// assumed absent (that would send the call to the public endpoint instead of the configured one).
    ConfigUnreadable {
        what: String,
    },
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::FipsWithCustom => {
                f.write_str("invalid configuration: FIPS and custom endpoint are not supported")
            }
            EndpointError::DualstackWithCustom => {
                f.write_str("invalid configuration: Dualstack and custom endpoint are not supported")
            }
            EndpointError::MissingRegion => f.write_str("invalid configuration: missing region"),
            EndpointError::InvalidRegion { region } => {
                write!(f, "invalid configuration: {region:?} is not a region name (letters, digits and '-')")
            }
            EndpointError::ServicesSectionMissing { profile, section } => write!(
                f,
                "profile {profile} is configured to use the services section but the \"{section}\" services configuration does not exist"
            ),
            EndpointError::InvalidUrl { url, source_name } => {
                let url = crate::sanitize::display_url(url);
                write!(f, "endpoint URL {url:?} from {source_name} is not an http(s) URL")
            }
            EndpointError::EmptyCaBundle { what, .. } | EndpointError::ConfigUnreadable { what } => f.write_str(what),
        }
    }
}

impl std::error::Error for EndpointError {}

struct Partition {
    dns_suffix: &'static str,
    dualstack_suffix: &'static str,
    /// GovCloud's FIPS endpoints are the plain hosts.
    fips_is_plain: bool,
    /// The host of the partition's IAM Identity Center issuer URLs (`https://<host>/ssoins-...`),
    /// where it has one (docs/login.md).
    issuer_host: Option<&'static str>,
}

const AWS: Partition = Partition {
    dns_suffix: "amazonaws.com",
    dualstack_suffix: "api.aws",
    fips_is_plain: false,
    issuer_host: Some("identitycenter.amazonaws.com"),
};
const CN: Partition = Partition {
    dns_suffix: "amazonaws.com.cn",
    dualstack_suffix: "api.amazonwebservices.com.cn",
    fips_is_plain: false,
    issuer_host: Some("identitycenter.amazonaws.com.cn"),
};
const GOV: Partition = Partition {
    dns_suffix: "amazonaws.com",
    dualstack_suffix: "api.aws",
    fips_is_plain: true,
    issuer_host: Some("identitycenter.us-gov.amazonaws.com"),
};
const EUSC: Partition = Partition {
    dns_suffix: "amazonaws.eu",
    dualstack_suffix: "api.amazonwebservices.eu",
    fips_is_plain: false,
    issuer_host: Some("identitycenter.amazonaws.eu"),
};
const ISO: Partition =
    Partition { dns_suffix: "c2s.ic.gov", dualstack_suffix: "api.aws.ic.gov", fips_is_plain: false, issuer_host: None };
const ISOB: Partition = Partition {
    dns_suffix: "sc2s.sgov.gov",
    dualstack_suffix: "api.aws.scloud",
    fips_is_plain: false,
    issuer_host: None,
};
const ISOE: Partition = Partition {
    dns_suffix: "cloud.adc-e.uk",
    dualstack_suffix: "api.cloud-aws.adc-e.uk",
    fips_is_plain: false,
    issuer_host: None,
};
const ISOF: Partition = Partition {
    dns_suffix: "csp.hci.ic.gov",
    dualstack_suffix: "api.aws.hci.ic.gov",
    fips_is_plain: false,
    issuer_host: None,
};
const PARTITIONS: [&Partition; 8] = [&AWS, &CN, &GOV, &EUSC, &ISO, &ISOB, &ISOE, &ISOF];

/// The partition for a region: the regex rules of partitions.json, unknown regions falling back to `aws`.
fn partition(region: &str) -> &'static Partition {
    let parts: Vec<&str> = region.split('-').collect();
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    // `^<a>-<b>-\w+-\d+$` with fixed first two labels.
    let four =
        |a: &str, b: &str| parts.len() == 4 && parts[0] == a && parts[1] == b && word(parts[2]) && digits(parts[3]);
    let three = |firsts: &[&str]| parts.len() == 3 && firsts.contains(&parts[0]) && word(parts[1]) && digits(parts[2]);

    if three(&["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"]) {
        &AWS
    } else if three(&["cn"]) {
        &CN
    } else if four("us", "gov") {
        &GOV
    } else if four("eusc", "de") {
        &EUSC
    } else if four("us", "iso") {
        &ISO
    } else if four("us", "isob") {
        &ISOB
    } else if four("eu", "isoe") {
        &ISOE
    } else if four("us", "isof") {
        &ISOF
    } else {
        &AWS
    }
}

/// The partition's ID (`aws`, `aws-cn`, `aws-us-gov`, ...) for a region, by the same rules.
pub fn partition_id(region: &str) -> &'static str {
    let p = partition(region);
    match p.dns_suffix {
        "amazonaws.com" if p.fips_is_plain => "aws-us-gov",
        "amazonaws.com" => "aws",
        "amazonaws.com.cn" => "aws-cn",
        "amazonaws.eu" => "aws-eusc",
        "c2s.ic.gov" => "aws-iso",
        "sc2s.sgov.gov" => "aws-iso-b",
        "cloud.adc-e.uk" => "aws-iso-e",
        "csp.hci.ic.gov" => "aws-iso-f",
        _ => "aws",
    }
}

/// The IAM Identity Center issuer host of the region's partition, e.g. `identitycenter.amazonaws.eu`
/// for `eusc-de-east-1` (docs/login.md); `None` for the partitions that have none we know of.
/// Whether a region can stand in a host name as it is (botocore's check): 1 to 63 letters, digits
/// and dashes, not starting or ending with a dash. Every region read from a file or the network
/// goes through this before it names a host.
pub fn is_host_label(region: &str) -> bool {
    (1..=63).contains(&region.len())
        && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-')
}

#[cfg(test)]
fn issuer_host(region: &str) -> Option<&'static str> {
    partition(region).issuer_host
}

// ---------------------------------------------------------------------------------------------------
// Start URL hosts (docs/login.md): which hosts are AWS's own, and which name their region.

/// Start URL domains AWS owns, matched on a label boundary (the domain itself or any host under it).
/// Together with the partitions' issuer hosts (matched exactly) they are the AWS CLI's allow-list.
const START_URL_DOMAINS: [&str; 8] = [
    "awsapps.com",
    "app.aws",
    "portal.amazonaws.com",
    "awsapps.cn",
    "portal.amazonaws.com.cn",
    "app.amazonwebservices.com.cn",
    "portal.amazonaws.eu",
    "api.amazonwebservices.eu",
];

/// Where the region sits in a regional portal host: `<id>.portal.<region>.<domain>` or
/// `<id>.<region>.portal.<domain>`.
#[derive(Clone, Copy)]
enum RegionAt {
    AfterPortal,
    BeforePortal,
}

const REGIONAL_PORTALS: [(&str, RegionAt); 6] = [
    ("app.aws", RegionAt::AfterPortal),
    ("amazonaws.com", RegionAt::BeforePortal),
    ("amazonaws.com.cn", RegionAt::BeforePortal),
    ("app.amazonwebservices.com.cn", RegionAt::AfterPortal),
    ("amazonaws.eu", RegionAt::BeforePortal),
    ("api.amazonwebservices.eu", RegionAt::AfterPortal),
];

fn normalize_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The lower-cased host of an `http(s)://` URL (user information and port left out), if it has one.
pub fn url_host(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host_port.split(':').next().unwrap_or(host_port),
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Whether a start URL host belongs to AWS: an issuer host of a partition, or a host under one of
/// the start URL domains (`evil-awsapps.com` and `awsapps.com.evil.net` are not).
pub fn is_aws_start_url_host(host: &str) -> bool {
    let host = normalize_host(host);
    if PARTITIONS.iter().any(|p| p.issuer_host == Some(host.as_str())) {
        return true;
    }
    START_URL_DOMAINS.iter().any(|d| host == *d || host.strip_suffix(d).is_some_and(|rest| rest.ends_with('.')))
}

/// The region a regional portal host names (`ssoins-1.portal.eu-west-1.app.aws` → `eu-west-1`).
pub fn region_of_start_url_host(host: &str) -> Option<String> {
    let host = normalize_host(host);
    REGIONAL_PORTALS.iter().find_map(|(domain, at)| {
        let rest = host.strip_suffix(domain)?.strip_suffix('.')?;
        let labels: Vec<&str> = rest.split('.').collect();
        let [id, a, b] = labels[..] else { return None };
        let region = match at {
            RegionAt::AfterPortal if a == "portal" => b,
            RegionAt::BeforePortal if b == "portal" => a,
            _ => return None,
        };
        let region_ok = !region.is_empty() && region.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
        (!id.is_empty() && region_ok).then(|| region.to_owned())
    })
}

/// Where a client of `service` sends its calls (docs/endpoints.md): an override verbatim, else the
/// partition's host for the flags. An override wins over FIPS and dual-stack, as in botocore, whose
/// client set-up passes both flags to the rule set as false whenever an endpoint is given, so the
/// rule set's "FIPS and custom endpoint are not supported" is never reached. Every client (the
/// portal, SSO OIDC, and any service added later) resolves through here.
pub fn resolve(
    service: Service,
    region: &str,
    fips: bool,
    dualstack: bool,
    custom: Option<&str>,
) -> Result<String, EndpointError> {
    let given = custom.is_some();
    rule_set(service, region, fips && !given, dualstack && !given, custom)
}

/// The services' endpoint rule set as it is written: a custom endpoint verbatim (an error together
/// with FIPS or dual-stack, which `resolve` never passes), else the partition's host for the flags.
fn rule_set(
    service: Service,
    region: &str,
    fips: bool,
    dualstack: bool,
    custom: Option<&str>,
) -> Result<String, EndpointError> {
    if let Some(url) = custom {
        if fips {
            return Err(EndpointError::FipsWithCustom);
        }
        if dualstack {
            return Err(EndpointError::DualstackWithCustom);
        }
        return Ok(url.to_owned());
    }
    if region.is_empty() {
        return Err(EndpointError::MissingRegion);
    }
    // botocore's rule: a host label. Anything else (a dot, a slash, an `@`) would put the call, and
    // the bearer token with it, on a host the region does not name.
    if !is_host_label(region) {
        return Err(EndpointError::InvalidRegion { region: crate::sanitize::sanitize(region) });
    }
    let p = partition(region);
    let prefix = service.prefix();
    Ok(match (fips, dualstack) {
        (true, true) => format!("https://{prefix}-fips.{region}.{}", p.dualstack_suffix),
        (true, false) if p.fips_is_plain => format!("https://{prefix}.{region}.{}", p.dns_suffix),
        (true, false) => format!("https://{prefix}-fips.{region}.{}", p.dns_suffix),
        (false, true) => format!("https://{prefix}.{region}.{}", p.dualstack_suffix),
        (false, false) => format!("https://{prefix}.{region}.{}", p.dns_suffix),
    })
}

/// FIPS and dual-stack flags: the environment wins over the profile (botocore `ensure_boolean`).
pub fn flag(env_value: Option<String>, profile_value: Option<&str>) -> bool {
    is_true(env_value.as_deref().or(profile_value))
}

pub fn is_true(v: Option<&str>) -> bool {
    v.is_some_and(|s| s.trim().eq_ignore_ascii_case("true"))
}

/// Whether a region name from the network (a start URL's redirect, a service's answer) looks like
/// a region of a known partition, by the `regionRegex` of each partition in the SDKs'
/// partitions.json (docs/endpoints.md), in lower case: `us-east-1`, `cn-north-1`,
/// `us-gov-west-1`, `eusc-de-east-1`, `us-isob-east-1`, but not `zz-evil-9`. Only such a name is
/// written to a file; any other one is asked for.
pub fn is_partition_region(region: &str) -> bool {
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let number = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = region.split('-').collect();
    match parts[..] {
        [area, name, n] => {
            ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn"].contains(&area) && word(name) && number(n)
        }
        [a, b, name, n] => {
            [("us", "gov"), ("eusc", "de"), ("us", "iso"), ("us", "isob"), ("eu", "isoe"), ("us", "isof")]
                .contains(&(a, b))
                && word(name)
                && number(n)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn settings_and_errors_never_show_credentials_in_an_override_url() {
        let settings = Settings {
            oidc: Ok(Some("https://user:PASSWORD@oidc.example".to_owned())),
            portal: Err(EndpointError::InvalidUrl {
                url: "ftp://user:PASSWORD@portal.example".to_owned(),
                source_name: "AWS_ENDPOINT_URL_SSO".to_owned(),
            }),
            sts: Ok(None),
            fips: false,
            dualstack: false,
            ca_bundle: Ok(None),
        };
        let shown = format!("{settings:?}");
        assert!(shown.contains("oidc.example") && shown.contains("portal.example"), "{shown}");
        assert!(!shown.contains("PASSWORD"), "{shown}");
    }

    #[test]
    fn a_region_must_be_a_host_label() {
        for bad in ["evil.example/", "us-east-1.evil.example", "a@b", "-x", "x-", "us east 1", &"a".repeat(64)] {
            let e = resolve(Service::Portal, bad, false, false, None).unwrap_err();
            assert!(matches!(e, EndpointError::InvalidRegion { .. }), "{bad}: {e}");
        }
        assert!(resolve(Service::Portal, "us-east-1", false, false, None).is_ok());
        assert!(resolve(Service::Portal, "mars-1", false, false, None).is_ok(), "unknown regions fall back to aws");
    }

    #[test]
    fn partition_ids() {
        let cases = [
            ("us-east-1", "aws"),
            ("eu-west-3", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("eusc-de-east-1", "aws-eusc"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("mars-1", "aws"),
        ];
        for (region, id) in cases {
            assert_eq!(partition_id(region), id, "{region}");
        }
    }

    #[test]
    fn every_vector_of_shared_endpoints_json() {
        let doc: Value = serde_json::from_str(include_str!("../tests/data/endpoints.json")).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() >= 130, "{}", cases.len());
        for case in cases {
            let service = match case["service"].as_str().unwrap() {
                "oidc" => Service::Oidc,
                "portal" => Service::Portal,
                other => panic!("unknown service {other}"),
            };
            let got = rule_set(
                service,
                case["region"].as_str().unwrap(),
                case["fips"].as_bool().unwrap(),
                case["dualstack"].as_bool().unwrap(),
                case["endpoint"].as_str(),
            );
            match (case["url"].as_str(), case["error"].as_str()) {
                (Some(url), None) => assert_eq!(got.as_deref(), Ok(url), "{case}"),
                (None, Some(error)) => {
                    let err = got.unwrap_err().to_string();
                    assert!(err.eq_ignore_ascii_case(error), "{case}: {err}");
                }
                _ => panic!("bad vector {case}"),
            }
        }
    }

    #[test]
    fn start_url_hosts_of_the_cli_allow_list() {
        let doc: Value = serde_json::from_str(include_str!("../tests/data/start_urls.json")).unwrap();
        let hosts = doc["hosts"].as_array().unwrap();
        assert!(hosts.len() >= 30);
        for case in hosts {
            let host = case["host"].as_str().unwrap();
            assert_eq!(is_aws_start_url_host(host), case["aws"].as_bool().unwrap(), "{case}");
            assert_eq!(region_of_start_url_host(host).as_deref(), case["region"].as_str(), "{case}");
        }
    }

    #[test]
    fn partition_table_of_authorize_portal_and_issuer_hosts() {
        let doc: Value = serde_json::from_str(include_str!("../tests/data/start_urls.json")).unwrap();
        let rows = doc["partitions"].as_array().unwrap();
        for name in ["cn-north-1", "us-gov-west-1", "eusc-de-east-1"] {
            assert!(rows.iter().any(|r| r["region"] == name), "{name} is in the table");
        }
        for row in rows {
            let region = row["region"].as_str().unwrap();
            let oidc = resolve(Service::Oidc, region, false, false, None).unwrap();
            assert_eq!(format!("{oidc}/authorize"), row["authorize"].as_str().unwrap(), "{row}");
            assert_eq!(resolve(Service::Portal, region, false, false, None).unwrap(), row["portal"].as_str().unwrap());
            assert_eq!(issuer_host(region), row["issuer"].as_str(), "{row}");
            if let Some(issuer) = issuer_host(region) {
                assert!(is_aws_start_url_host(issuer), "{issuer} is on the allow-list");
            }
        }
    }

    #[test]
    fn an_override_wins_over_fips_and_dualstack() {
        let custom = "https://custom.example:8443/base";
        for service in [Service::Oidc, Service::Portal, Service::Sts] {
            for (fips, dualstack) in [(true, false), (false, true), (true, true)] {
                let got = resolve(service, "us-east-1", fips, dualstack, Some(custom));
                assert_eq!(got.as_deref(), Ok(custom), "{service:?} fips={fips} dualstack={dualstack}");
                // The rule set alone refuses the pair; the client never asks it to.
                assert!(rule_set(service, "us-east-1", fips, dualstack, Some(custom)).is_err());
            }
        }
        // Without an override the flags still choose the host.
        let fips = resolve(Service::Oidc, "us-east-1", true, false, None);
        assert_eq!(fips.as_deref(), Ok("https://oidc-fips.us-east-1.amazonaws.com"));
        let settings = Settings {
            oidc: Ok(Some(custom.to_owned())),
            portal: Ok(None),
            sts: Ok(Some(custom.to_owned())),
            fips: true,
            dualstack: true,
            ca_bundle: Ok(None),
        };
        assert_eq!(settings.endpoint(Service::Oidc, "us-east-1").map(|e| e.url).as_deref(), Ok(custom));
        assert_eq!(settings.endpoint(Service::Sts, "us-east-1").map(|e| e.url).as_deref(), Ok(custom));
        assert_eq!(
            settings.endpoint(Service::Portal, "us-east-1").map(|e| e.url).as_deref(),
            Ok("https://portal.sso-fips.us-east-1.api.aws")
        );
    }

    #[test]
    fn regions_of_known_partitions_only() {
        for ok in ["us-east-1", "eu-central-2", "ap-southeast-5", "mx-central-1", "il-central-1", "cn-northwest-1"] {
            assert!(is_partition_region(ok), "{ok}");
        }
        for ok in ["us-gov-west-1", "eusc-de-east-1", "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1"] {
            assert!(is_partition_region(ok), "{ok}");
        }
        for bad in [
            "zz-evil-9",
            "us-east",
            "US-EAST-1",
            "us-east-1x",
            "us--1",
            "us-gov-west",
            "eu-de-east-1",
            "",
            "us-east-1.evil",
        ] {
            assert!(!is_partition_region(bad), "{bad}");
        }
    }

    #[test]
    fn flags() {
        assert!(flag(Some("TRUE".into()), None));
        assert!(!flag(Some("false".into()), Some("true")));
        assert!(flag(None, Some("true")));
        assert!(!flag(None, Some("yes")));
    }
}
