//! The hidden `completions <shell>` and `man` commands: shell completion scripts and the manual
//! page, generated from the clap definition (`clap_complete`, `clap_mangen`) so they never drift
//! from the real flags. `install.sh` runs them with the installed binary.

use crate::cli::Cli;
use crate::error::Error;
use clap::CommandFactory;
use std::io::Write;

const NAME: &str = "aws-sso-process";

pub fn completions(shell: clap_complete::Shell) -> Result<u8, Error> {
    write_stdout(completion_script(shell).as_bytes())
}

pub fn completion_script(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), NAME, &mut out);
    let script = String::from_utf8_lossy(&out).into_owned();
    match shell {
        // clap_complete's bash script spells the state of a hyphenated binary's subcommands two
        // ways (`aws__sso__process__subcmd__login` while walking the words, `aws__subcmd__sso__
        // subcmd__process__subcmd__login` in the case arms), so no subcommand option ever
        // completes: clap-rs/clap#6421, #6529. Use the first spelling everywhere.
        clap_complete::Shell::Bash => {
            complete_names_in(&script.replace("aws__subcmd__sso__subcmd__process", "aws__sso__process"), shell)
        }
        clap_complete::Shell::Zsh => complete_names_in(&script, shell),
        clap_complete::Shell::Fish => complete_names_in(&fish_quote_descriptions(&script), shell),
        _ => script,
    }
}

/// clap_complete's fish script puts each value's help in single quotes inside one double-quoted
/// `-a "..."` argument, unescaped: a help with `"` or `$(...)` in it (the export formats') ends the
/// string early, and fish then runs what follows as a command when the script is sourced. Escapes
/// `\`, `"` and `$` in those helps.
fn fish_quote_descriptions(script: &str) -> String {
    let mut out = String::with_capacity(script.len() + 256);
    let mut in_values = false;
    for line in script.lines() {
        // A list of values with helps: `-a "name\t'help'` (a plain `-a "name"` has no `\t'`).
        let opens = |i: usize| line[i + 5..].split('"').next().is_some_and(|v| v.contains("\\t'"));
        let start = if in_values { Some(0) } else { line.find(" -a \"").filter(|&i| opens(i)).map(|i| i + 4) };
        let Some(start) = start else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let (head, values) = line.split_at(start);
        let closes = values.ends_with("'\"");
        in_values = !closes;
        let body = if closes { &values[..values.len() - 1] } else { values };
        let fixed = match (body.find("\\t'"), body.rfind('\'')) {
            (Some(tab), Some(end)) if end > tab + 2 => {
                let desc = &body[tab + 3..end];
                let escaped = desc.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$");
                format!("{}{escaped}{}", &body[..tab + 3], &body[end..])
            }
            _ => body.to_owned(),
        };
        out.push_str(head);
        out.push_str(&fixed);
        if closes {
            out.push('"');
        }
        out.push('\n');
    }
    out
}

/// The option whose values are config names, and the `complete-names` kind that lists them.
const NAMED_OPTIONS: [(&str, &str); 2] = [("profile", "profiles"), ("sso-session", "sso-sessions")];

/// Makes the values of --profile and --sso-session complete from the user's config, through the
/// hidden `complete-names` command, where clap_complete's scripts offer file names (bash) or
/// nothing (zsh, fish). Line by line, so each shell's script keeps its own form.
fn complete_names_in(script: &str, shell: clap_complete::Shell) -> String {
    let list = |kind: &str| format!("{NAME} complete-names {kind} 2>/dev/null");
    let mut out = String::with_capacity(script.len() + 4096);
    let mut option: Option<&str> = None;
    for line in script.lines() {
        let trimmed = line.trim();
        let mut line = line.to_owned();
        match shell {
            // `--profile)` then `COMPREPLY=($(compgen -f "${cur}"))` in each state's case. The
            // names are read line by line and compared as text: `compgen -W` (or an unquoted
            // `$(...)`) would expand each one (`$(...)`, backquotes, `${VAR}`, globs), running
            // commands written into the config.
            clap_complete::Shell::Bash => {
                if let Some(kind) = option.take()
                    && trimmed == r#"COMPREPLY=($(compgen -f "${cur}"))"#
                {
                    let read = format!(
                        r#"COMPREPLY=(); while IFS= read -r n; do [[ $n == "$cur"* ]] && COMPREPLY+=("$n"); done < <({})"#,
                        list(kind)
                    );
                    line = line.replace(trimmed, &read);
                }
                option = NAMED_OPTIONS.iter().find(|(o, _)| trimmed == format!("--{o})")).map(|(_, k)| *k);
            }
            // `'--profile=[help]:PROFILE:_default' \`: the action after the last colon.
            clap_complete::Shell::Zsh => {
                for (opt, kind) in NAMED_OPTIONS {
                    if trimmed.contains(&format!("--{opt}=[")) && trimmed.ends_with(":_default' \\") {
                        let action =
                            format!(r#"{{local -a names; names=(${{(f)"$({})"}}); compadd -a names}}' \"#, list(kind));
                        line = format!("{}{action}", &line[..line.len() - "_default' \\".len()]);
                    }
                }
            }
            // `complete -c aws-sso-process ... -l profile -d '...' -r`: add the names, no files.
            clap_complete::Shell::Fish => {
                for (opt, kind) in NAMED_OPTIONS {
                    if trimmed.contains(&format!(" -l {opt} ")) && trimmed.ends_with(" -r") {
                        line.push_str(&format!(r#" -f -a "({})""#, list(kind)));
                    }
                }
            }
            _ => {}
        }
        out.push_str(&line);
        out.push('\n');
    }
    if shell == clap_complete::Shell::Fish {
        // Before a subcommand, clap's condition (an argparse of the words so far) fails while the
        // option still lacks its value, so the lines above never apply there: offer the names
        // whenever the word before is the option.
        for (opt, kind) in NAMED_OPTIONS {
            out.push_str(&format!(
                "complete -c {NAME} -n 'test (commandline -opc)[-1] = --{opt}' -f -a \"({})\"\n",
                list(kind)
            ));
        }
    }
    out
}

/// Whether a name can be offered as a completion: a shell inserts the candidate into the command
/// line as it is, so only names that mean themselves there unquoted in bash, zsh and fish (letters,
/// digits and `._@+=,:/-`, not starting with `-`, which would read as an option). Any other name
/// (with a space, quote, `$`, backquote, glob or other shell character) is left out of the list;
/// it can still be typed, quoted, by hand.
fn insertable(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@+=,:/-".contains(&b))
}

/// `complete-names`: the config's profile or sso-session names, one a line (for the completion
/// scripts). No config, or one that does not parse, lists nothing: a completion must not print
/// errors into the command line being typed.
pub fn complete_names(ctx: &crate::context::Context, kind: crate::cli::NameKind) -> Result<u8, Error> {
    let Ok(config) = ctx.config() else { return Ok(0) };
    let names = match kind {
        crate::cli::NameKind::Profiles => &config.profiles,
        crate::cli::NameKind::SsoSessions => &config.sso_sessions,
    };
    let mut text = String::new();
    for name in names.keys().filter(|n| insertable(n)) {
        text.push_str(name);
        text.push('\n');
    }
    write_stdout(text.as_bytes())
}

pub fn man() -> Result<u8, Error> {
    write_stdout(man_page().as_bytes())
}

/// The page: clap_mangen's title, name and synopsis, our own description (clap's would repeat the
/// one-line `about`), then clap_mangen's options for the top level; then one subsection per command
/// with its own options (clap_mangen would point at a page per command, which we do not install),
/// in the order `--help` lists them; then what clap knows nothing of (exit status, environment,
/// files, examples).
pub fn man_page() -> String {
    let mut cmd = Cli::command();
    // Built first, so that each command knows the global flags its conflicts name.
    cmd.build();
    let top = clap_mangen::Man::new(cmd.clone());
    let mut page = String::from(AQ_PREAMBLE);
    page.push_str(&roff(|w| top.render_title(w)));
    page.push_str(&roff(|w| top.render_name_section(w)));
    page.push_str(&roff(|w| top.render_synopsis_section(w)));
    page.push_str(DESCRIPTION);
    page.push_str(&roff(|w| top.render_options_section(w)));
    page.push_str(".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        page.push_str(&format!(".SS \"{NAME} {}\"\n", sub.get_name()));
        if let Some(about) = sub.get_about() {
            page.push_str(&format!("{}\n", roff_text(&about.to_string())));
        }
        // The command's own option sections, each heading made a subsection; the global options
        // are listed once, above.
        let man = clap_mangen::Man::new(sub.clone());
        let part = roff(|w| man.render_options_section(w));
        for section in part.split(".SH ").skip(1) {
            let (heading, body) = section.split_once('\n').unwrap_or((section, ""));
            let heading = heading.trim_matches('"');
            if heading == "GLOBAL OPTIONS" || body.trim().is_empty() {
                continue;
            }
            if heading != "OPTIONS" {
                page.push_str(&format!(".SS \"{NAME} {}: {}\"\n", sub.get_name(), heading.to_lowercase()));
            }
            page.push_str(body.trim_end());
            page.push('\n');
        }
    }
    // The help texts mark code with backticks, as Markdown does; on the page that is bold.
    let mut page = code_spans(&page);
    let (exit_status, rest) = EXTRA_SECTIONS.split_at(EXTRA_SECTIONS.find(".SH FILES").unwrap_or(0));
    page.push_str(exit_status);
    page.push_str(&code_spans(&environment_section()));
    page.push_str(rest);
    page
}

/// Each pair of backticks on a text line (not a request, not in a `.nf` block) made bold.
fn code_spans(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut literal = false;
    for line in page.split_inclusive('\n') {
        if line.starts_with(".nf") {
            literal = true;
        } else if line.starts_with(".fi") {
            literal = false;
        }
        if literal || line.starts_with(['.', '\'']) || line.matches('`').count() % 2 != 0 {
            out.push_str(line);
            continue;
        }
        for (i, piece) in line.split('`').enumerate() {
            if i > 0 {
                out.push_str(if i % 2 == 1 { "\\fB" } else { "\\fR" });
            }
            out.push_str(piece);
        }
    }
    out
}

/// What the tool does, in a few paragraphs: the first thing a reader of the page sees.
const DESCRIPTION: &str = r#".SH DESCRIPTION
\fBaws\-sso\-process\fR gets AWS role credentials from IAM Identity Center (AWS SSO) for every
tool that reads \fI~/.aws/config\fR: the AWS CLI, boto3, the SDKs, Terraform. A profile names it as
its \fBcredential_process\fR; run without a command, it prints the credential_process JSON for the
target profile on stdout and nothing else. Cached role credentials are served with no network
call at all.
.PP
It reads and writes the AWS CLI v2 caches (\fI~/.aws/sso/cache\fR, \fI~/.aws/cli/cache\fR) in the
CLI's own format, so every tool shares one login: \fBaws sso login\fR \fB\-\-sso\-session\fR \fIS\fR logs in the
session the generated profiles use, and \fBaws\-sso\-process login\fR logs in for the AWS CLI too.
(\fBaws sso login\fR \fB\-\-profile\fR needs a profile with \fBsso_*\fR keys, which generated profiles do not have.) It refreshes the SSO access token in its last 15 minutes, under a
file lock, so fifty processes at once make one refresh. Cache files are written atomically, and a
token is refreshed only where the new one can be saved.
.PP
\fBsetup\fR writes an \fB[sso\-session]\fR, logs in and generates one profile per account and role:
for a first set\-up it is the only command needed. \fBlogin\fR and \fBlogout\fR start and end a
session; \fBstatus\fR and \fBlist\fR show what is configured, cached and reachable; \fBexport\fR,
\fBexec\fR, \fBserve\fR and \fBconsole\fR hand the credentials to a shell, a command, an SDK's
container provider or the browser; \fBconfigure generate\fR writes profiles; \fBrefresh\fR keeps
sessions warm. \fBcreate\-token\fR, \fBcreate\-token\-with\-iam\fR, \fBregister\-client\fR and
\fBstart\-device\-authorization\fR call the SSO OIDC API directly, as \fBaws sso\-oidc\fR does.
.PP
The profile tools use must hold no \fBsso_*\fR keys (or the SDKs run their own SSO code instead):
the SSO settings go in a second profile, or in flags (see \fBEXAMPLES\fR).
"#;

/// What clap_mangen puts before every piece it renders: the `Aq` string its text uses.
const AQ_PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// One piece rendered by clap_mangen, without its preamble (the page has it once, at the top).
fn roff(render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = render(&mut out);
    let text = String::from_utf8_lossy(&out);
    text.strip_prefix(AQ_PREAMBLE).unwrap_or(&text).to_owned()
}

/// Plain text as one roff paragraph line: backslashes and hyphens escaped, no control line.
/// ENVIRONMENT, from the one list of the variables the program reads (`context::ENV_VARS`).
fn environment_section() -> String {
    let mut out = String::from(".SH ENVIRONMENT\n");
    for var in crate::context::ENV_VARS.iter().filter(|v| !v.meaning.is_empty()) {
        let names: Vec<String> = var.names.iter().map(|n| format!("\\fB{}\\fR", roff_text(n))).collect();
        out.push_str(&format!(".TP\n{}\n{}\n", names.join(", "), roff_text(var.meaning)));
    }
    out
}

fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) { format!("\\&{escaped}") } else { escaped }
}

const EXTRA_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success.
.TP
\fB1\fR
Failure (one line on stderr starting with \fBaws\-sso\-process:\fR, and often a \fBhint:\fR line).
.TP
\fB2\fR
Usage error.
.TP
\fB3\fR
Login required: run \fBaws\-sso\-process login\fR (or \fBaws sso login\fR).
.TP
\fB126\fR, \fB127\fR
\fBexec\fR: the command could not be run, or was not found. Otherwise \fBexec\fR exits with the command's own status.
.SH FILES
.TP
\fI~/.aws/sso/cache/\fR
SSO tokens and client registrations, shared with the AWS CLI v2.
.TP
\fI~/.aws/cli/cache/\fR
Role credentials, shared with the AWS CLI v2.
.SH EXAMPLES
First set\-up: answer the questions, or give every answer as a flag:
.PP
.nf
aws\-sso\-process setup
aws\-sso\-process setup \-\-start\-url https://corp.awsapps.com/start \-\-region us\-east\-1 \e
    \-\-sso\-session corp \-\-scopes sso:account:access \-\-generate all
.fi
.PP
By hand, in \fI~/.aws/config\fR: the profile tools use holds no \fBsso_*\fR keys, and the
scopes give the session a refresh token:
.PP
.nf
[profile dev]
credential_process = aws\-sso\-process \-\-profile dev\-sso

[profile dev\-sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Developer

[sso\-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us\-east\-1
sso_registration_scopes = sso:account:access
.fi
.PP
Log in once, then use the credentials:
.PP
.nf
aws\-sso\-process login \-\-profile dev
aws s3 ls \-\-profile dev
eval "$(aws\-sso\-process export \-\-profile dev\-sso \-\-format env)"
aws\-sso\-process exec \-\-profile dev\-sso \-\- aws s3 ls
aws\-sso\-process refresh \-\-all
.fi
.SH "SEE ALSO"
\fBaws\fR(1)
"#;

/// The script or page on stdout; a reader that stopped early (`man | head`) is not an error.
fn write_stdout(bytes: &[u8]) -> Result<u8, Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Other { what: format!("cannot write to stdout: {e}"), hint: None })
        }
        _ => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_page_has_every_visible_command_and_no_hidden_one() {
        let page = man_page();
        assert!(page.starts_with(AQ_PREAMBLE) && page.contains("\n.TH aws-sso-process 1"), "{}", &page[..200]);
        assert_eq!(page.matches(".ds Aq").count(), 2, "the preamble once");
        assert!(!page.contains("aws\\-sso\\-process\\-login(1)"), "no pages we do not install");
        for sub in ["refresh", "login", "logout", "export", "exec", "create-token"] {
            assert!(page.contains(&format!(".SS \"aws-sso-process {sub}")), "{sub}");
        }
        assert!(page.contains("\\-\\-format") && page.contains("windows\\-cmd"));
        for hidden in ["completions", "man", "help"] {
            assert!(!page.contains(&format!(".SS \"aws-sso-process {hidden}")), "{hidden}");
        }
        assert!(page.contains("\\fB\\-\\-force\\fR"), "exec's own option");
        assert!(page.contains(".SH \"EXIT STATUS\""));
    }

    #[test]
    fn man_page_says_what_the_tool_does_and_its_example_has_scopes() {
        let page = man_page();
        let description = page.split(".SH DESCRIPTION\n").nth(1).and_then(|d| d.split("\n.SH ").next()).unwrap();
        assert!(description.matches("\n.PP\n").count() >= 2, "paragraphs, not clap's one-line about");
        for needle in ["credential_process JSON", "\\fBsetup\\fR", "\\fBaws sso login\\fR", "sso_*"] {
            assert!(description.contains(needle), "DESCRIPTION lacks {needle}");
        }
        let examples = page.split(".SH EXAMPLES\n").nth(1).unwrap();
        assert!(examples.contains("[sso\\-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us\\-east\\-1\nsso_registration_scopes = sso:account:access\n"));
        assert!(examples.contains("aws\\-sso\\-process setup\n"));
    }

    #[test]
    fn man_page_lists_commands_in_help_order() {
        let page = man_page();
        let at = |sub: &str| page.find(&format!(".SS \"aws-sso-process {sub}\"")).unwrap_or_else(|| panic!("{sub}"));
        let order = ["setup", "login", "logout", "status", "list", "export", "exec", "serve", "console", "configure"];
        let order = order.iter().chain(&["refresh", "create-token", "create-token-with-iam", "register-client"]);
        let positions: Vec<usize> = order.chain(&["start-device-authorization"]).map(|sub| at(sub)).collect();
        assert!(positions.is_sorted(), "{positions:?}");
    }

    #[test]
    fn only_names_that_mean_themselves_unquoted_are_offered() {
        for ok in ["dev", "Prod-1", "team.dev_admin", "a@b+c=d,e:f/g"] {
            assert!(insertable(ok), "{ok}");
        }
        for bad in ["", "-x", "$(id)", "`id`", "${HOME}", "a*", "~root", "a b", "a;b", "a'b", "a\"b", "a\\b", "é"] {
            assert!(!insertable(bad), "{bad}");
        }
    }

    #[test]
    fn bash_states_are_spelled_one_way() {
        let script = completion_script(clap_complete::Shell::Bash);
        assert!(!script.contains("aws__subcmd__sso"));
        assert!(script.contains("aws__sso__process__subcmd__export)"), "a case arm for export");
    }

    #[test]
    fn code_spans_become_bold_outside_literal_blocks() {
        let page = "A `b` and `c`.\n.TP\n`x` odd ` count\n.nf\n`kept`\n.fi\n";
        assert_eq!(code_spans(page), "A \\fBb\\fR and \\fBc\\fR.\n.TP\n`x` odd ` count\n.nf\n`kept`\n.fi\n");
        assert!(
            !man_page()
                .lines()
                .filter(|l| !l.starts_with('.'))
                .any(|l| l.matches('`').count() >= 2 && !l.contains("$("))
        );
    }

    #[test]
    fn roff_text_escapes() {
        assert_eq!(roff_text(".a-b\\c"), "\\&.a\\-b\\ec");
    }
}
