//! The credential_process output (SPEC A.4, B.8): one JSON object on stdout, exact key casing,
//! `Version` the number 1, `Expiration` in `YYYY-MM-DDTHH:MM:SSZ`.

use crate::portal::RoleCredentials;
use crate::timefmt;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessCredentials<'a> {
    version: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: String,
    account_id: &'a str,
}

fn object<'a>(creds: &'a RoleCredentials, account_id: &'a str) -> ProcessCredentials<'a> {
    ProcessCredentials {
        version: 1,
        access_key_id: creds.access_key_id.expose(),
        secret_access_key: creds.secret_access_key.expose(),
        session_token: creds.session_token.expose(),
        expiration: timefmt::format(creds.expiration),
        account_id,
    }
}

pub fn process_json(creds: &RoleCredentials, account_id: &str) -> String {
    serde_json::to_string(&object(creds, account_id)).unwrap_or_default()
}

/// The same object indented by two spaces, as `aws configure export-credentials --format process` prints it.
pub fn process_json_pretty(creds: &RoleCredentials, account_id: &str) -> String {
    serde_json::to_string_pretty(&object(creds, account_id)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn exact_shape() {
        let creds = RoleCredentials {
            access_key_id: Secret::new("ASIA1"),
            secret_access_key: Secret::new("s\"k"),
            session_token: Secret::new("st"),
            expiration: timefmt::parse("2026-11-21T08:00:00.123Z").unwrap(),
        };
        assert_eq!(
            process_json(&creds, "111122223333"),
            r#"{"Version":1,"AccessKeyId":"ASIA1","SecretAccessKey":"s\"k","SessionToken":"st","Expiration":"2026-11-21T08:00:00Z","AccountId":"111122223333"}"#
        );
    }
}
