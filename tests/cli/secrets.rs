//! No secret from the fixtures ever reaches stderr, and stdout carries only the credentials.

use crate::util::fake::Reply;
use crate::util::*;
use serde_json::json;

#[test]
fn debug_output_and_errors_never_show_a_secret() {
    let scenarios: Vec<(&str, Box<dyn Fn(&TestEnv)>)> = vec![
        ("refresh then fetch", Box::new(|e: &TestEnv| drop(e.seed_corp_token(60)))),
        (
            "refresh rejected",
            Box::new(|e: &TestEnv| {
                e.seed_corp_token(-60);
                e.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidGrantException", "invalid_grant")]);
            }),
        ),
        (
            "portal 401 twice",
            Box::new(|e: &TestEnv| {
                e.seed_corp_token(7200);
                let r = || Reply::portal_error(401, "UnauthorizedException", "Session token not found or invalid");
                e.fake.script("GetRoleCredentials", [r(), r()]);
            }),
        ),
        (
            "garbage answers",
            Box::new(|e: &TestEnv| {
                e.seed_corp_token(60);
                e.fake.script("CreateToken", [Reply::Json(200, None, json!({"accessToken": 5}))]);
            }),
        ),
        (
            "truncated token file",
            Box::new(|e: &TestEnv| {
                e.write_file(
                    &e.token_path(CORP_KEY),
                    r#"{"accessToken": "seeded-access-token-DO-NOT-LEAK", "refreshToken": "x"#,
                )
            }),
        ),
    ];
    for (name, setup) in scenarios {
        for args in
            [&["--profile", "dev-sso", "--debug"][..], &["refresh", "--force", "--profile", "dev-sso", "--debug"]]
        {
            let env = TestEnv::new();
            setup(&env);
            let run = env.run(args);
            assert!(!run.stderr.contains("DO-NOT-LEAK"), "{name} {args:?}: {}", run.stderr);
            assert!(run.stderr.contains("debug:") || run.code != 0, "{name}: --debug prints: {run:?}");
            if args[0] == "refresh" {
                assert!(!run.stdout.contains("DO-NOT-LEAK"), "{name}: {run:?}");
            }
        }
    }
}
