//! `list`: every account and role the SSO user can reach (see `accounts`), as a table or JSON.

use crate::accounts::{self, AccountRoles};
use crate::cli::TargetArgs;
use crate::context::Context;
use crate::error::Error;
use crate::output::{Cell, Style, table};
use crate::target::SessionTarget;
use serde_json::{Value, json};

pub fn run(ctx: &Context, spec: &TargetArgs, as_json: bool) -> Result<u8, Error> {
    let target = crate::target::session_target(ctx, spec)?;
    let accounts = accounts::fetch(ctx, &target)?;
    let text = if as_json { to_json(&target, &accounts) } else { to_table(&target, &accounts, ctx.color_stdout()) };
    crate::output::stdout_bytes(text.as_bytes());
    Ok(0)
}

/// What `list` calls the session in its summary: `sso-session corp` or the legacy start URL.
fn describe(target: &SessionTarget) -> String {
    match &target.session.name {
        Some(name) => format!("sso-session {name}"),
        None => target.session.start_url.clone(),
    }
}

fn to_table(target: &SessionTarget, accounts: &[AccountRoles], color: bool) -> String {
    let bold = |s: &str| Cell::styled(s, Style::Bold);
    let mut rows = vec![vec![bold("ACCOUNT ID"), bold("ACCOUNT NAME"), bold("ROLE")]];
    let mut roles = 0;
    for a in accounts {
        let name = if a.account.account_name.is_empty() { "-" } else { &a.account.account_name };
        if a.roles.is_empty() {
            rows.push(vec![Cell::new(&a.account.account_id), Cell::new(name), Cell::styled("(no roles)", Style::Dim)]);
        }
        for role in &a.roles {
            roles += 1;
            rows.push(vec![Cell::new(&a.account.account_id), Cell::new(name), Cell::new(role)]);
        }
    }
    let mut out = String::new();
    for line in table(&rows, "", color) {
        out.push_str(&line);
        out.push('\n');
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    out.push_str(&format!(
        "{}, {} ({})\n",
        plural(accounts.len(), "account"),
        plural(roles, "role"),
        crate::sanitize::sanitize(&describe(target))
    ));
    out
}

/// The `--json` document (schema in docs/status.md).
fn to_json(target: &SessionTarget, accounts: &[AccountRoles]) -> String {
    let doc = json!({
        "ssoSession": target.session.name,
        "startUrl": target.session.start_url,
        "region": target.sso_region().ok(),
        "accounts": accounts.iter().map(|a| json!({
            "accountId": a.account.account_id,
            "accountName": a.account.account_name,
            "emailAddress": a.account.email_address,
            "roles": a.roles,
        })).collect::<Vec<Value>>(),
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
