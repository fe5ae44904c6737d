//! The `mcp-gateway` binary: parses the command line and hands off to the library.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mcp_gateway::cli::args::{
    CertsCommand, Cli, Command, KeysCommand, SecretsCommand, TokenCommand,
};
use mcp_gateway::cli::{issue, quickstart};
use mcp_gateway::config::{Backend, Config, Problem};
use mcp_gateway::gateway::server;
use mcp_gateway::policy::address;
use mcp_gateway::policy::token::jwks;
use mcp_gateway::policy::token::jwt::TokenVerifier;
use mcp_gateway::secrets;
use mcp_gateway::transport::certificate::{self, ServerCertificate};
use mcp_gateway::transport::known_identities::KnownIdentities;
use mcp_gateway::transport::tls;

/// What the diagnostic log on stderr shows: `MCP_GATEWAY_LOG`, else
/// `RUST_LOG`, else the gateway's own information and only warnings from its
/// dependencies (rmcp alone would write a line per request at info).
fn diagnostic_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_env("MCP_GATEWAY_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| DEFAULT_DIAGNOSTICS.into())
}

/// The diagnostic filter when none is set.
const DEFAULT_DIAGNOSTICS: &str = "warn,mcp_gateway=info";

/// mimalloc instead of glibc's allocator (`mcp_gateway::allocator` says
/// why and how). It serves the Rust code only; the C libraries (aws-lc,
/// SQLite) keep libc's malloc.
#[global_allocator]
static ALLOCATOR: mcp_gateway::allocator::Mimalloc = mcp_gateway::allocator::Mimalloc;

/// Exit code for an invalid configuration.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    // Before anything touches rustls: exactly one crypto provider in the process.
    tls::install_crypto_provider();
    tracing_subscriber::fmt()
        .with_env_filter(diagnostic_filter())
        // Escaped and bounded lines: a client-supplied value logged in a field
        // can never start a line of its own (fail2ban may read stderr).
        .with_writer(mcp_gateway::observe::logsink::EscapingStderr)
        .with_ansi(false)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => match load_checked(&config, Signing::IfReadable) {
            Ok(_) => {
                println!("{}: ok", config.display());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Connect(options) => connect(&options),
        Command::Healthcheck { config } => match mcp_gateway::config::Config::load(&config) {
            Ok(config) => match mcp_gateway::cli::healthcheck::check(&config) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("unhealthy: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(problems) => {
                eprintln!("{problems}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
        Command::Serve { config: path } => match load_checked(&path, Signing::NotNeeded) {
            Ok(config) => serve(config, &path),
            Err(code) => code,
        },
        Command::Token {
            command: TokenCommand::Issue { config, request },
        } => {
            let config = match load_checked(&config, Signing::Needed) {
                Ok(c) => c,
                Err(code) => return code,
            };
            report("token issue", issue::issue(&config, request))
        }
        Command::Token {
            command: TokenCommand::Revoke { config, jti },
        } => {
            let config = match load_checked(&config, Signing::NotNeeded) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let outcome = match &config.jwt.revocations {
                None => Err(anyhow::anyhow!("jwt.revocations is not set in the config")),
                Some(path) => mcp_gateway::policy::token::revocations::revoke(path, &jti)
                    .map(|added| match added {
                        true => format!("{jti}: revoked (in {})", path.display()),
                        false => format!("{jti}: already revoked"),
                    })
                    .map_err(|e| anyhow::anyhow!("jwt.revocations: {e}")),
            };
            report("token revoke", outcome)
        }
        Command::Certs { command } => {
            use mcp_gateway::cli::certs::CaFolder;
            let outcome = match command {
                CertsCommand::InitCa { dir, name } => CaFolder::at(&dir).init(&name),
                CertsCommand::IssueServer { dir, names, out } => {
                    CaFolder::at(&dir).issue_server(&names, &out)
                }
                CertsCommand::IssueClient { dir, id, days, out } => {
                    CaFolder::at(&dir).issue_client(&id, days, &out)
                }
                CertsCommand::Revoke { dir, serial } => CaFolder::at(&dir).revoke(&serial),
                CertsCommand::Crl { dir } => CaFolder::at(&dir).refresh_crl(),
                CertsCommand::List { dir } => CaFolder::at(&dir).list(),
            };
            report("certs", outcome)
        }
        Command::Keys {
            command: KeysCommand::Generate { out, algorithm },
        } => report(
            "keys generate",
            mcp_gateway::policy::token::keys::generate_key_file(&out, &algorithm)
                .map(|kid| format!("{}: new signing key, kid {kid}", out.display())),
        ),
        Command::Keys {
            command: KeysCommand::Rotate { config },
        } => match Config::load(&config) {
            Ok(config) => report(
                "keys rotate",
                mcp_gateway::cli::rotation::rotate(&config.jwt, chrono::Utc::now().timestamp()),
            ),
            Err(problems) => report("keys rotate", Err(anyhow::anyhow!("{problems}"))),
        },
        Command::Keys {
            command: KeysCommand::Prune { config },
        } => match Config::load(&config) {
            Ok(config) => report(
                "keys prune",
                mcp_gateway::cli::rotation::prune(&config.jwt, chrono::Utc::now().timestamp()),
            ),
            Err(problems) => report("keys prune", Err(anyhow::anyhow!("{problems}"))),
        },
        Command::Keys {
            command: KeysCommand::Jwks { key, add },
        } => report(
            "keys jwks",
            mcp_gateway::policy::token::keys::jwks_for_key_file(&key, add.as_deref()),
        ),
        Command::Secrets {
            command: SecretsCommand::GenerateKey,
        } => {
            println!("{}", secrets::generate_key());
            ExitCode::SUCCESS
        }
        Command::Secrets {
            command: SecretsCommand::Encrypt { key_file },
        } => encrypt_stdin(key_file.as_deref()),
        Command::Secrets {
            command:
                SecretsCommand::Rotate {
                    config,
                    new_key_file,
                    key_file,
                },
        } => report(
            "secrets rotate",
            mcp_gateway::cli::secrets_rotate::run(&config, &new_key_file, key_file.as_deref()),
        ),
        Command::Quickstart {
            dir,
            listen,
            metrics_listen,
            no_serve,
        } => {
            let wanted = quickstart::Addresses {
                listen,
                metrics: metrics_listen,
            };
            let (config_path, addresses) = match quickstart::prepare(&dir, wanted) {
                Ok(prepared) => prepared,
                Err(e) => {
                    eprintln!("quickstart: {e}");
                    return ExitCode::FAILURE;
                }
            };
            println!("{}", quickstart::instructions(&dir, &addresses));
            if no_serve {
                return ExitCode::SUCCESS;
            }
            match load_checked(&config_path, Signing::NotNeeded) {
                Ok(config) => serve(config, &config_path),
                Err(code) => code,
            }
        }
    }
}

/// Loads and fully checks a configuration (including TLS material), printing
/// one line per problem.
/// Whether a command signs with `jwt.signing_key` (and so needs it readable
/// and in the JWKS), or only verifies (`serve`: the service user may not be
/// able to read the key, and need not).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signing {
    /// `token issue`: the key must be readable and in the JWKS.
    Needed,
    /// `check-config` (also the systemd unit's ExecStartPre, as the service
    /// user): checked when this user can read it, else a warning.
    IfReadable,
    /// `serve` (unless `[jwt.renewal]` is on), `token revoke`: not read.
    NotNeeded,
}

fn load_checked(path: &Path, signing: Signing) -> Result<Config, ExitCode> {
    let config = Config::load(path).map_err(|problems| {
        eprintln!("{problems}");
        ExitCode::from(EXIT_CONFIG)
    })?;
    // With renewal on, `serve` signs tokens: the key must be there.
    let signing = if config.jwt.renewal {
        Signing::Needed
    } else {
        signing
    };
    let mut problems = Vec::new();
    let certificate = match certificate::initial(&config.tls) {
        Ok(Some(pair)) => ServerCertificate::serving(&pair),
        Ok(None) => {
            eprintln!(
                "note: tls.acme: no usable certificate in {} yet; `serve` orders one from {} before the first handshake",
                config.tls.certificate.display(),
                config
                    .tls
                    .acme
                    .as_ref()
                    .map_or("", |acme| acme.directory.as_str())
            );
            ServerCertificate::empty()
        }
        Err(problem) => {
            problems.push(problem);
            ServerCertificate::empty()
        }
    };
    problems.extend(
        tls::server_config(
            &config.tls,
            certificate,
            Arc::new(KnownIdentities::new(config.tls.identity)),
        )
        .err()
        .unwrap_or_default(),
    );
    if let Some(metrics_tls) = &config.metrics.tls {
        problems.extend(tls::metrics_config(metrics_tls).err().unwrap_or_default());
    }
    if let Err(problem) = address::from_config(&config.network) {
        problems.push(problem);
    }
    if let Err(problem) = TokenVerifier::from_config(&config.jwt) {
        problems.push(problem);
    } else if signing != Signing::NotNeeded {
        let unreadable = config
            .jwt
            .signing_key
            .as_ref()
            .filter(|key| std::fs::File::open(key).is_err());
        match (signing, unreadable) {
            (Signing::IfReadable, Some(key)) => eprintln!(
                "warning: jwt.signing_key: {} is not readable by this user; only `token issue` and `keys` need it, not `serve`",
                key.display()
            ),
            _ => {
                if let Err(problem) = jwks::check_signing_key(&config.jwt) {
                    problems.push(problem);
                }
            }
        }
    }
    // Files the gateway creates at start: their folders must exist.
    let created = [
        ("log.security_log", config.network.security_log.as_deref()),
        ("log.audit_log", config.network.audit_log.as_deref()),
        (
            "backend.embedded.path",
            match &config.backend {
                Backend::Embedded(embedded) => Some(embedded.path.as_path()),
                Backend::Google(_) | Backend::CalDav(_) => None,
            },
        ),
    ];
    for (key, file) in created {
        if let Some(folder) = file
            .and_then(Path::parent)
            .filter(|f| !f.as_os_str().is_empty() && !f.is_dir())
        {
            problems.push(Problem::new(
                key,
                format!("folder not found: {}", folder.display()),
            ));
        }
    }
    if !problems.is_empty() {
        mcp_gateway::config::locate(path, &mut problems);
        for p in problems {
            eprintln!("{p}");
        }
        return Err(ExitCode::from(EXIT_CONFIG));
    }
    let crl_warnings = mcp_gateway::transport::crl::warnings(&config.tls, chrono::Utc::now());
    for warning in config.warnings.iter().chain(&crl_warnings) {
        eprintln!("warning: {warning}");
    }
    Ok(config)
}

/// `connect`: the snippet, the check, or the bridge until stdin closes.
/// Nothing but JSON-RPC may reach stdout while bridging: a bad option is
/// one line on stderr and exit code 2.
fn connect(options: &mcp_gateway::connect::options::Options) -> ExitCode {
    use mcp_gateway::connect;
    if let Some(client) = &options.print_config {
        return report(
            "connect --print-config",
            connect::snippets::print_config(options, client)
                .map(|s| s.trim_end().to_owned())
                .map_err(anyhow::Error::msg),
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return report("connect", Err(e.into())),
    };
    if options.check {
        return match runtime.block_on(connect::check::check(options)) {
            true => ExitCode::SUCCESS,
            false => ExitCode::FAILURE,
        };
    }
    match connect::prepare(options) {
        Ok(prepared) => {
            runtime.block_on(connect::run(prepared));
            // Background work (a renewal's write is atomic) ends with the process.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("mcp-gateway connect: {why}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// Prints a command's output, or its error and exit code 2.
fn report(command: &str, outcome: anyhow::Result<String>) -> ExitCode {
    match outcome {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{command}: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// `secrets encrypt`: stdin (one trailing newline dropped) to an `ENC:` value.
fn encrypt_stdin(key_file: Option<&Path>) -> ExitCode {
    let key = match secrets::SecretKey::from_environment(key_file) {
        Ok(Some(key)) => key,
        Ok(None) => {
            eprintln!(
                "secrets encrypt: no key: set {} or pass --key-file",
                secrets::KEY_ENV
            );
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(e) => {
            eprintln!("secrets encrypt: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let mut input = Vec::new();
    if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut input) {
        eprintln!("secrets encrypt: cannot read standard input: {e}");
        return ExitCode::FAILURE;
    }
    if input.ends_with(b"\n") {
        input.pop();
    }
    println!("{}", key.encrypt(&input));
    ExitCode::SUCCESS
}

fn serve(config: Config, path: &Path) -> ExitCode {
    let delay = config.listen.drain_delay;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let gateway = match server::start(config).await {
            Ok(g) => g,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        };
        gateway.watch_config(path);
        wait_for_stop(&gateway, path).await;
        // Out of the balancer's rotation first, still serving, then stop
        // accepting and let what is in flight finish.
        gateway.begin_drain();
        if !delay.is_zero() {
            tracing::info!(?delay, "shutting down: not ready, still serving");
            tokio::time::sleep(delay).await;
        }
        tracing::info!("shutting down: draining connections");
        gateway.shutdown.cancel();
        let _ = gateway.task.await;
        ExitCode::SUCCESS
    });
    // The drain is over (listen.drain_timeout has cut what was left).
    mcp_gateway::gateway::serving_threads::shut_down(runtime);
    code
}

/// Waits for SIGINT or SIGTERM; on SIGHUP reopens the log files (logrotate's
/// `postrotate`), reloads what can change live from the config at `path`, and
/// keeps serving.
async fn wait_for_stop(gateway: &server::Gateway, path: &Path) {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut hup) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(term), Ok(hup)) => (term, hup),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "cannot install signal handlers; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hup.recv() => {
                gateway.reopen_logs();
                match gateway.reload(path) {
                    Ok(notes) => {
                        for note in notes {
                            tracing::warn!("{note}");
                        }
                    }
                    Err(problems) => {
                        for problem in problems.0 {
                            tracing::error!("reload refused: {problem}");
                        }
                    }
                }
            }
        }
    }
}
