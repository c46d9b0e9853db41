//! `seccfg check`: the CI gate from the command line. Templates (and Terraform plans,
//! `terraform show -json` output, recognised by their `format_version`) are checked against
//! bundle directories offline (`--bundle`) or a server's library (`--server`); the report goes to stdout in the chosen
//! format; the exit code is 0 on a pass, 1 on a failure (fail, undetermined or not
//! approved) and 2 when the input cannot be checked.

use std::path::PathBuf;
use std::process::ExitCode;

use seccfg::catalog::Catalog;
use seccfg::gate::{self, GateError, Input, Report, Verdict};
use seccfg::library::time;
use seccfg::store::now_ms;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// CloudFormation templates (JSON or YAML) or Terraform plans (`terraform show -json PLANFILE` output).
    #[arg(required = true)]
    templates: Vec<PathBuf>,
    /// The security profile id whose approved controls apply.
    #[arg(long)]
    profile: String,
    /// Bundle directories written by `seccfg run` (one per service), checked offline.
    #[arg(long = "bundle", num_args = 1.., required_unless_present = "server", conflicts_with = "server")]
    bundles: Vec<PathBuf>,
    /// A seccfg server: check against its library's latest approved bundles (`POST /v1/checks`).
    #[arg(long)]
    server: Option<String>,
    /// Only bundles approved for this profile version (with --server).
    #[arg(long, requires = "server")]
    profile_version: Option<i64>,
    /// API key for --server (when the server requires authentication; role reader).
    #[arg(long, env = "SECCFG_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Waivers for the offline check (JSON or YAML, `{"waivers": [{control_id, reason,
    /// expires_at, resource?}]}`, the fields of an approval's waivers); applied until they expire.
    #[arg(long, requires = "bundles", conflicts_with = "server")]
    waivers: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    Sarif,
    Junit,
}

/// Exit code for input that cannot be checked.
const BAD_INPUT: u8 = 2;

/// Any failure to check (bad input, or the catalog or evaluation failing) exits 2, never 1.
pub async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    Ok(check(args).await.unwrap_or_else(|e| bad_input(&format!("{e:#}"))))
}

async fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let inputs = match read_inputs(&args.templates) {
        Ok(i) => i,
        Err(message) => return Ok(bad_input(&message)),
    };
    if let Some(server) = &args.server {
        let checked =
            crate::check_server::check(server, args.api_key.as_deref(), &args.profile, args.profile_version, &inputs);
        return Ok(match checked.await {
            Ok(report) => verdict(&report, args.format),
            Err(crate::check_server::ServerError::Input(m) | crate::check_server::ServerError::Other(m)) => {
                bad_input(&m)
            }
        });
    }
    let waivers = match args.waivers.as_ref().map(|p| std::fs::read_to_string(p).map_err(|e| (p, e))).transpose() {
        Ok(w) => w,
        Err((p, e)) => return Ok(bad_input(&format!("{}: {e}", p.display()))),
    };
    let catalog = Catalog::load_default()?;
    let checked =
        gate::check_bundle_dirs(&catalog, &args.profile, &inputs, &args.bundles, waivers.as_deref(), now_ms());
    let report = match checked {
        Ok((report, expired)) => {
            for w in expired {
                eprintln!(
                    "note: the waiver of {} expired at {}; not applied",
                    w.control_id,
                    time::format(w.expires_at)
                );
            }
            report
        }
        Err(GateError::Guard(e)) => anyhow::bail!("guard evaluation failed: {e}"),
        Err(e) => return Ok(bad_input(&describe(&e))),
    };
    Ok(verdict(&report, args.format))
}

/// Prints the report; 0 on a pass, 1 otherwise.
fn verdict(report: &Report, format: Format) -> ExitCode {
    print!("{}", render(report, format));
    if report.verdict == Verdict::Pass { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn read_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, String> {
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok(Input { name: p.display().to_string(), text })
        })
        .collect()
}

/// An input error with its pointer and line.
fn describe(e: &GateError) -> String {
    match e {
        GateError::Syntax { line: Some(l), message } => format!("{message} (line {l})"),
        GateError::Input { pointer, line, message } => {
            let line = line.map(|l| format!(", line {l}")).unwrap_or_default();
            format!("{message} (at {pointer}{line})")
        }
        other => other.to_string(),
    }
}

fn bad_input(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(BAD_INPUT)
}

fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => gate::format::text(report),
        Format::Json => gate::format::json(report) + "\n",
        Format::Sarif => gate::format::sarif(report) + "\n",
        Format::Junit => gate::format::junit(report),
    }
}
