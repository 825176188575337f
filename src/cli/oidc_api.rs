//! The command line of the low-level SSO OIDC commands (docs/oidc-api.md): `create-token`,
//! `create-token-with-iam`, `register-client` and `start-device-authorization`, with the AWS CLI's
//! flags (`aws sso-oidc ...`) and help text. Clap definitions only; `cmd::oidc_api` runs them.
//! The flags under the `Request` heading are the one description of each request's members: the
//! member name is the flag's name in camelCase, in the order declared here (the model's order), a
//! `Vec` flag is a list, and the first line of its help is the skeleton's comment.
//!
//! `--region` and `--start-url` are the global flags of `cli/mod.rs` (a subcommand cannot define a
//! long flag that a global one already has), so they are read from `Cli::target`.

use crate::secret::Secret;
use clap::Args;

/// Clap value parser that keeps a secret flag value out of Debug output.
fn secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(s))
}

/// A `--cli-input-json`/`--cli-input-yaml` value: the document itself is a secret (it may carry
/// tokens), a `file://` or `fileb://` reference is not (held, a path would be removed from the
/// very messages that name it; the members the file carries are held when the request is sent).
fn input_document(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(if s.starts_with("file://") || s.starts_with("fileb://") { Secret::unheld(s) } else { Secret::new(s) })
}

/// What every sso-oidc command takes besides its request members, as in the AWS CLI.
#[derive(Debug, Args)]
#[command(next_help_heading = "Input and output")]
pub struct ApiArgs {
    /// Send the request to this URL instead of the resolved SSO OIDC endpoint.
    ///
    /// Without it: AWS_ENDPOINT_URL_SSO_OIDC, AWS_ENDPOINT_URL, the profile's [services] sso_oidc
    /// endpoint_url or endpoint_url, else https://oidc.REGION.amazonaws.com (with FIPS and
    /// dual-stack settings applied).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// The request as JSON, or file://PATH to read it from a file; flags override its values.
    ///
    /// Performs the operation based on the JSON string provided. The JSON follows the format
    /// printed by --generate-cli-skeleton (keys are the API's member names, e.g. clientId). If
    /// other arguments are given on the command line, their values override the JSON-provided
    /// values. Unknown keys and values of the wrong type are usage errors.
    #[arg(long, value_name = "JSON", conflicts_with = "cli_input_yaml", value_parser = input_document)]
    pub cli_input_json: Option<Secret>,

    /// The request as YAML, or file://PATH to read it from a file; flags override its values.
    ///
    /// The format printed by --generate-cli-skeleton yaml-input. Only flat YAML is read: `key:
    /// value` lines, lists as `- item` lines or `[a, b]`, quoted or plain values, comments.
    #[arg(long, value_name = "YAML", value_parser = input_document)]
    pub cli_input_yaml: Option<Secret>,

    /// Print a skeleton instead of calling the service: input (default), yaml-input or output.
    ///
    /// Prints a skeleton to standard output without sending an API request. With no value or
    /// `input`, prints a sample input JSON that can be used as an argument for --cli-input-json;
    /// with `yaml-input`, the same as YAML for --cli-input-yaml; with `output`, a sample output
    /// JSON for the command.
    #[arg(
        long,
        value_name = "KIND",
        num_args = 0..=1,
        default_missing_value = "input",
        value_parser = ["input", "yaml-input", "output"]
    )]
    pub generate_cli_skeleton: Option<String>,
}

/// Creates and returns access and refresh tokens for clients that are authenticated using
/// client secrets (SSO OIDC CreateToken).
#[derive(Debug, Args)]
pub struct CreateTokenArgs {
    /// The unique identifier string for the client or application.
    ///
    /// This value comes from the result of the RegisterClient API (`register-client`).
    #[arg(long, value_name = "ID", help_heading = "Request")]
    pub client_id: Option<String>,

    /// A secret string generated for the client.
    ///
    /// This value should come from the persisted result of the RegisterClient API.
    #[arg(long, value_name = "SECRET", value_parser = secret, help_heading = "Request")]
    pub client_secret: Option<Secret>,

    /// The OAuth grant type: authorization_code, refresh_token or the device code URN.
    ///
    /// Supports the following OAuth grant types: Authorization Code, Device Code, and Refresh
    /// Token. Specify one of the following values, depending on the grant type that you want:
    ///
    ///   * Authorization Code - authorization_code
    ///
    ///   * Device Code - urn:ietf:params:oauth:grant-type:device_code (or just device_code)
    ///
    ///   * Refresh Token - refresh_token
    #[arg(long, value_name = "TYPE", help_heading = "Request")]
    pub grant_type: Option<String>,

    /// Used only for the Device Code grant type: the code StartDeviceAuthorization returned.
    ///
    /// This short-lived code is used to identify this authorization request. This comes from the
    /// result of the StartDeviceAuthorization API (`start-device-authorization`).
    #[arg(long, value_name = "CODE", value_parser = secret, help_heading = "Request")]
    pub device_code: Option<Secret>,

    /// Used only for the Authorization Code grant type: the short-lived authorization code.
    ///
    /// The short-lived code is used to identify this authorization request.
    #[arg(long, value_name = "CODE", value_parser = secret, help_heading = "Request")]
    pub code: Option<Secret>,

    /// Used only for the Refresh Token grant type: the refresh token.
    ///
    /// This token is used to refresh short-lived tokens, such as the access token, that might
    /// expire.
    #[arg(long, value_name = "TOKEN", value_parser = secret, help_heading = "Request")]
    pub refresh_token: Option<Secret>,

    /// The list of scopes for which authorization is requested (space-separated, repeatable).
    ///
    /// This parameter has no effect; the access token will always include all scopes configured
    /// during client registration. Syntax: --scope openid sso:account:access, or --scope once per
    /// value.
    #[arg(long, value_name = "SCOPE", num_args = 1.., action = clap::ArgAction::Append, help_heading = "Request")]
    pub scope: Vec<String>,

    /// Used only for the Authorization Code grant type: the redirect URI of the authorization.
    ///
    /// This value specifies the location of the client or application that has registered to
    /// receive the authorization code; it must be the one used in the /authorize request.
    #[arg(long, value_name = "URI", help_heading = "Request")]
    pub redirect_uri: Option<String>,

    /// Used only for the Authorization Code grant type: the PKCE code verifier.
    ///
    /// This value is generated by the client and presented to validate the original code
    /// challenge value the client passed at authorization time.
    #[arg(long, value_name = "VERIFIER", value_parser = secret, help_heading = "Request")]
    pub code_verifier: Option<Secret>,

    #[command(flatten)]
    pub api: ApiArgs,
}

/// Creates and returns access and refresh tokens for authorized client applications that are
/// authenticated using any IAM entity (SSO OIDC CreateTokenWithIAM, SigV4-signed).
#[derive(Debug, Args)]
pub struct CreateTokenWithIamArgs {
    /// The application ARN that has OAuth grants configured (not a registered public client).
    ///
    /// The unique identifier string for the client or application. This value is an application
    /// ARN that has OAuth grants configured.
    #[arg(long, value_name = "ARN", help_heading = "Request")]
    pub client_id: Option<String>,

    /// The OAuth grant type: authorization_code, refresh_token, jwt-bearer or token-exchange.
    ///
    /// Supports the following OAuth grant types: Authorization Code, Refresh Token, JWT Bearer,
    /// and Token Exchange. Specify one of the following values, depending on the grant type that
    /// you want:
    ///
    ///   * Authorization Code - authorization_code
    ///
    ///   * Refresh Token - refresh_token
    ///
    ///   * JWT Bearer - urn:ietf:params:oauth:grant-type:jwt-bearer (or just jwt-bearer)
    ///
    ///   * Token Exchange - urn:ietf:params:oauth:grant-type:token-exchange (or just
    ///     token-exchange)
    #[arg(long, value_name = "TYPE", help_heading = "Request")]
    pub grant_type: Option<String>,

    /// Used only for the Authorization Code grant type: the short-lived authorization code.
    ///
    /// The code is obtained through a redirect from IAM Identity Center to a redirect URI
    /// persisted in the Authorization Code GrantOptions for the application.
    #[arg(long, value_name = "CODE", value_parser = secret, help_heading = "Request")]
    pub code: Option<Secret>,

    /// Used only for the Refresh Token grant type: the refresh token.
    ///
    /// This token is used to refresh short-lived tokens, such as the access token, that might
    /// expire.
    #[arg(long, value_name = "TOKEN", value_parser = secret, help_heading = "Request")]
    pub refresh_token: Option<Secret>,

    /// Used only for the JWT Bearer grant type: the JWT issued by a trusted token issuer.
    ///
    /// To authorize a trusted token issuer, configure the JWT Bearer GrantOptions for the
    /// application.
    #[arg(long, value_name = "JWT", value_parser = secret, help_heading = "Request")]
    pub assertion: Option<Secret>,

    /// The list of scopes for which authorization is requested (space-separated, repeatable).
    ///
    /// The access token that is issued is limited to the scopes that are granted. If the value
    /// is not specified, IAM Identity Center authorizes all scopes configured for the
    /// application, including the default scopes openid, aws and sts:identity_context.
    #[arg(long, value_name = "SCOPE", num_args = 1.., action = clap::ArgAction::Append, help_heading = "Request")]
    pub scope: Vec<String>,

    /// Used only for the Authorization Code grant type: the redirect URI of the authorization.
    ///
    /// This value specifies the location of the client or application that has registered to
    /// receive the authorization code.
    #[arg(long, value_name = "URI", help_heading = "Request")]
    pub redirect_uri: Option<String>,

    /// Used only for the Token Exchange grant type: the token to exchange.
    ///
    /// The value of the subject token must be an access token issued by IAM Identity Center to a
    /// different client or application.
    #[arg(long, value_name = "TOKEN", value_parser = secret, help_heading = "Request")]
    pub subject_token: Option<Secret>,

    /// Used only for the Token Exchange grant type: the type of the subject token.
    ///
    /// Supported: urn:ietf:params:oauth:token-type:access_token.
    #[arg(long, value_name = "URN", help_heading = "Request")]
    pub subject_token_type: Option<String>,

    /// Used only for the Token Exchange grant type: the type of token to receive.
    ///
    /// Supported: urn:ietf:params:oauth:token-type:access_token and
    /// urn:ietf:params:oauth:token-type:refresh_token.
    #[arg(long, value_name = "URN", help_heading = "Request")]
    pub requested_token_type: Option<String>,

    /// Used only for the Authorization Code grant type: the PKCE code verifier.
    ///
    /// This value is generated by the client and presented to validate the original code
    /// challenge value the client passed at authorization time.
    #[arg(long, value_name = "VERIFIER", value_parser = secret, help_heading = "Request")]
    pub code_verifier: Option<Secret>,

    /// Sign with this profile's static keys or credential_process (after the environment's).
    ///
    /// IAM credentials are taken from, in order: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    /// AWS_SESSION_TOKEN; this profile's aws_access_key_id / aws_secret_access_key /
    /// aws_session_token, else its credential_process; else the SSO role that --profile (or
    /// --sso-session with --account-id and --role-name) selects, through aws-sso-process's own
    /// role cache.
    #[arg(long, value_name = "PROFILE", help_heading = "Signing")]
    pub source_profile: Option<String>,

    #[command(flatten)]
    pub api: ApiArgs,
}

/// Registers a public client with IAM Identity Center (SSO OIDC RegisterClient).
#[derive(Debug, Args)]
pub struct RegisterClientArgs {
    /// The friendly name of the client.
    #[arg(long, value_name = "NAME", help_heading = "Request")]
    pub client_name: Option<String>,

    /// The type of client; the service supports only `public`.
    ///
    /// Anything other than public will be rejected by the service.
    #[arg(long, value_name = "TYPE", help_heading = "Request")]
    pub client_type: Option<String>,

    /// The scopes the client may ask for (space-separated, repeatable).
    ///
    /// Upon authorization, this list is used to restrict permissions when granting an access
    /// token.
    #[arg(long, value_name = "SCOPE", num_args = 1.., action = clap::ArgAction::Append, help_heading = "Request")]
    pub scopes: Vec<String>,

    /// The redirect URIs of the client (space-separated, repeatable).
    ///
    /// At completion of authorization, this list is used to restrict what locations the user
    /// agent can be redirected back to.
    #[arg(long, value_name = "URI", num_args = 1.., action = clap::ArgAction::Append, help_heading = "Request")]
    pub redirect_uris: Vec<String>,

    /// The OAuth 2.0 grant types the client may use (space-separated, repeatable).
    ///
    /// Supports authorization_code, urn:ietf:params:oauth:grant-type:device_code and
    /// refresh_token.
    #[arg(long, value_name = "TYPE", num_args = 1.., action = clap::ArgAction::Append, help_heading = "Request")]
    pub grant_types: Vec<String>,

    /// The IAM Identity Center issuer URL of the instance the client works with.
    #[arg(long, value_name = "URL", help_heading = "Request")]
    pub issuer_url: Option<String>,

    /// An IAM Identity Center application ARN whose configuration restricts this client.
    ///
    /// At authorization, the scopes, grants, and redirect URI available to this client will be
    /// restricted by this application resource.
    #[arg(long, value_name = "ARN", help_heading = "Request")]
    pub entitled_application_arn: Option<String>,

    #[command(flatten)]
    pub api: ApiArgs,
}

/// Initiates device authorization by requesting a pair of verification codes from the
/// authorization service (SSO OIDC StartDeviceAuthorization).
#[derive(Debug, Args)]
pub struct StartDeviceAuthorizationArgs {
    /// The client ID that RegisterClient returned.
    #[arg(long, value_name = "ID", help_heading = "Request")]
    pub client_id: Option<String>,

    /// The client secret that RegisterClient returned.
    #[arg(long, value_name = "SECRET", value_parser = secret, help_heading = "Request")]
    pub client_secret: Option<Secret>,

    #[command(flatten)]
    pub api: ApiArgs,
}

/// A command's text after the flags: its own sections, then the exit status, the same for all.
macro_rules! after_help {
    ($text:literal) => {
        concat!(
            $text,
            "\n\nExit status:\n  0 with the response on stdout; 1 when the call fails (the error line names the service's\n",
            "  error code, e.g. InvalidGrantException, and its description); 2 for a usage error (a missing\n",
            "  required member, an unknown grant type, --cli-input-json that cannot be read)."
        )
    };
}

pub const CREATE_TOKEN_AFTER: &str = after_help!(
    "\
Output:
  The response JSON as the service returned it (pretty-printed). It holds the tokens.
    accessToken (string)    An opaque token to access IAM Identity Center resources.
    tokenType (string)      The type of the token: Bearer.
    expiresIn (integer)     Seconds until the access token expires.
    refreshToken (string)   A token to obtain new access tokens with (when the grant gives one).
    idToken (string)        The user's identifier (not supported by the service today).

Examples:
  aws-sso-process create-token --region us-east-1 --client-id ID --client-secret SECRET \\
      --grant-type refresh_token --refresh-token TOKEN
  aws-sso-process create-token --region us-east-1 --client-id ID --client-secret SECRET \\
      --grant-type device_code --device-code CODE
  aws-sso-process create-token --generate-cli-skeleton > request.json
  aws-sso-process create-token --region us-east-1 --cli-input-json file://request.json"
);

pub const CREATE_TOKEN_WITH_IAM_AFTER: &str = after_help!(
    "\
Output:
  The response JSON as the service returned it (pretty-printed). It holds the tokens.
    accessToken (string)       An opaque token to access IAM Identity Center resources.
    tokenType (string)         The type of the token: Bearer.
    expiresIn (integer)        Seconds until the access token expires.
    refreshToken (string)      A token to obtain new access tokens with (when the grant gives one).
    idToken (string)           A JSON Web Token that identifies the user.
    issuedTokenType (string)   For Token Exchange: the type of the issued token.
    scope (list)               The scopes granted.
    awsAdditionalDetails       identityContext: the identity context of the user.

Signing:
  The request is POST /token?aws_iam=t signed with SigV4 (service sso-oauth, the OIDC region).
  IAM credentials come from, in order: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
  AWS_SESSION_TOKEN; --source-profile (static keys, else credential_process); the SSO role that
  --profile or --sso-session/--account-id/--role-name selects.

Examples:
  aws-sso-process create-token-with-iam --region us-east-1 --source-profile ci \\
      --client-id arn:aws:sso::123456789012:application/ssoins-1/apl-1 \\
      --grant-type jwt-bearer --assertion JWT
  aws-sso-process create-token-with-iam --region us-east-1 --client-id ARN \\
      --grant-type refresh_token --refresh-token TOKEN"
);

pub const REGISTER_CLIENT_AFTER: &str = after_help!(
    "\
Output:
  The response JSON as the service returned it (pretty-printed):
    clientId (string)                The client's identifier.
    clientSecret (string)            The client's secret (keep it like a password).
    clientIdIssuedAt (long)          When the client ID was issued, in epoch seconds.
    clientSecretExpiresAt (long)     When the secret expires, in epoch seconds.
    authorizationEndpoint (string)   Not used by the service today.
    tokenEndpoint (string)           Not used by the service today.

Examples:
  aws-sso-process register-client --region us-east-1 --client-name my-tool --client-type public
  aws-sso-process register-client --region us-east-1 --client-name my-tool --client-type public \\
      --scopes sso:account:access --grant-types authorization_code refresh_token \\
      --redirect-uris http://127.0.0.1/oauth/callback --issuer-url https://corp.awsapps.com/start"
);

pub const START_DEVICE_AUTHORIZATION_AFTER: &str = after_help!(
    "\
Request:
  --start-url URL   The URL of the AWS access portal (the startUrl member). Required.

Output:
  The response JSON as the service returned it (pretty-printed):
    deviceCode (string)                The code for CreateToken's device code grant.
    userCode (string)                  The code the user confirms in the browser.
    verificationUri (string)           Where the user enters the code.
    verificationUriComplete (string)   The same with the code filled in.
    expiresIn (integer)                Seconds until the device code stops working.
    interval (integer)                 Seconds to wait between CreateToken polls.

Examples:
  aws-sso-process start-device-authorization --region us-east-1 --client-id ID \\
      --client-secret SECRET --start-url https://corp.awsapps.com/start"
);

#[cfg(test)]
mod tests {
    use crate::cli::Cli;
    use clap::Parser;

    #[test]
    fn debug_output_hides_secret_flags() {
        let argv = [
            "x",
            "create-token-with-iam",
            "--client-id",
            "arn",
            "--grant-type",
            "token-exchange",
            "--code",
            "s1-secret",
            "--refresh-token",
            "s2-secret",
            "--assertion",
            "s3-secret",
            "--subject-token",
            "s4-secret",
            "--code-verifier",
            "s5-secret",
        ];
        let shown = format!("{:?}", Cli::try_parse_from(argv).unwrap());
        assert!(shown.contains("arn") && !shown.contains("-secret"), "{shown}");
        let argv = ["x", "create-token", "--client-secret", "s6-secret", "--device-code", "s7-secret"];
        let shown = format!("{:?}", Cli::try_parse_from(argv).unwrap());
        assert!(!shown.contains("-secret"), "{shown}");
    }
}
