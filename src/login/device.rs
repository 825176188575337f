//! The device code flow (docs/login-flows.md): one CreateToken before the code is shown, then
//! polling at the service's interval, `slow_down` adding 5 s for good, until approval, denial,
//! `expired_token` or our own `expiresIn` deadline.

use super::*;

pub(super) fn device_flow(
    ctx: &Context,
    oidc: &Oidc,
    target: &SessionTarget,
    reg: &Registration,
    opts: &Options,
    prompt: &Prompt,
    start_url: &str,
) -> Result<TokenResponse, Error> {
    let auth = oidc
        .start_device_authorization(&reg.client_id, &reg.client_secret, start_url)
        .map_err(|e| failed(format!("cannot start the device authorization for {}", target.label), e))?;
    let deadline = Instant::now() + Duration::from_secs(auth.expires_in as u64);
    let mut interval = auth.interval.map(|s| Duration::from_secs(s as u64)).unwrap_or(DEFAULT_INTERVAL);
    let body = json!({
        "grantType": DEVICE_GRANT,
        "clientId": reg.client_id,
        "clientSecret": reg.client_secret.expose(),
        "deviceCode": auth.device_code.expose(),
    });
    let mut shown = false;
    loop {
        match oidc.create_token(&body) {
            Ok(resp) => return Ok(resp),
            Err(e) => match e.service().map(|s| s.code.as_str()) {
                Some("AuthorizationPendingException") => {}
                Some("SlowDownException") => {
                    interval += SLOW_DOWN_STEP;
                    ctx.debug(|| format!("slow_down: polling every {} s from now on", interval.as_secs()));
                }
                Some("ExpiredTokenException") => return Err(device_expired(target)),
                Some("AccessDeniedException") => {
                    return Err(failed(format!("the sign-in to {} was denied", target.label), e));
                }
                _ => return Err(failed(format!("the device code login to {} failed", target.label), e)),
            },
        }
        if !shown {
            shown = true;
            let uri = sanitize(&auth.verification_uri);
            prompt
                .line(&format!("aws-sso-process: to sign in to {}, open this page and enter the code:", target.label));
            prompt.item(&uri, false);
            prompt.item(&sanitize(&auth.user_code), true);
            let complete = auth.verification_uri_complete.as_deref().map(sanitize);
            if let Some(complete) = &complete {
                prompt.line(&format!(
                    "  (or open {complete}, which fills in the code: check that it shows the same one)"
                ));
            }
            if opts.open_browser {
                match crate::browser::open(ctx, complete.as_deref().unwrap_or(&uri)) {
                    Ok(()) => prompt.line("aws-sso-process: opened the page in your browser"),
                    Err(why) => prompt.line(&format!("aws-sso-process: {why}; open the page by hand")),
                }
            }
        }
        let now = Instant::now();
        if now + interval > deadline {
            // The next poll would come after the code stopped working (our own deadline, docs/login-flows.md).
            wait_showing(prompt, deadline, deadline, "the code");
            return Err(device_expired(target));
        }
        wait_showing(prompt, now + interval, deadline, "the code");
    }
}

/// Sleeps until `until`, showing the time left before `deadline` (what expires: `what`) on the
/// status line, once a second on a terminal (Ctrl-C ends the wait; nothing has been written yet).
fn wait_showing(prompt: &Prompt, until: Instant, deadline: Instant, what: &str) {
    loop {
        let now = Instant::now();
        if now >= until {
            return;
        }
        let left = crate::prompt::minutes_seconds(deadline.saturating_duration_since(now));
        prompt.status(&format!("aws-sso-process: waiting for the sign-in ({what} expires in {left}; Ctrl-C to stop)"));
        std::thread::sleep(until.saturating_duration_since(now).min(Duration::from_secs(1)));
    }
}

fn device_expired(target: &SessionTarget) -> Error {
    Error::Other {
        what: format!("the device code for {} expired before the sign-in was approved", target.label),
        hint: Some(format!("run 'aws-sso-process login {}' again and approve it in time", target.login_args)),
    }
}
