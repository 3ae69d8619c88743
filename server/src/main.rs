//! The `livegate` command: `livegate demo` runs the gateway with the demo school on embedded
//! defaults; `livegate serve` runs it from a configuration file.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use livegate::config::Config;
use livegate::store::Store;

#[derive(Parser)]
#[command(name = "livegate", version, about = "A livestream learning gateway for schools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run with the demo school (teachers, a class, pupils) so you can try a lesson.
    Demo(Overrides),
    /// Check the audit chain: every entry intact and in order.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run from a configuration file.
    Serve {
        /// A TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        overrides: Overrides,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the chain; exits non-zero and says where if it is broken.
    Verify {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(Args)]
struct Overrides {
    /// Where HTTP listens, e.g. 127.0.0.1:8080.
    #[arg(long)]
    http: Option<SocketAddr>,
    /// The UDP port for all media (0 picks a free one).
    #[arg(long)]
    media_port: Option<u16>,
    /// The address clients reach the media port on.
    #[arg(long)]
    advertise_ip: Option<IpAddr>,
    /// The database: `sqlite:path` or `postgres://...`.
    #[arg(long)]
    database_url: Option<String>,
    /// End a live lesson after its teacher has been away this many seconds.
    #[arg(long)]
    teacher_absent_timeout_secs: Option<u64>,
    /// Where Livegate keeps its files (spool, recordings, keys).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl Overrides {
    fn apply(self, config: &mut Config) {
        if let Some(v) = self.http {
            config.http = v;
        }
        if let Some(v) = self.media_port {
            config.media_port = v;
        }
        if let Some(v) = self.advertise_ip {
            config.advertise_ip = Some(v);
        }
        if let Some(v) = self.data_dir {
            config.data_dir = v;
        }
        if let Some(v) = self.database_url {
            config.database_url = Some(v);
        }
        if let Some(v) = self.teacher_absent_timeout_secs {
            config.teacher_absent_timeout_secs = v;
        }
        if let (Some(cert), Some(key)) = (self.tls_cert, self.tls_key) {
            config.tls = Some(livegate::config::TlsConfig { cert, key });
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    livegate::password::return_large_blocks_to_the_system();
    livegate::logs::init();
    let cli = Cli::parse();
    let (config, demo) = match cli.command {
        Command::Demo(o) => {
            let mut c = Config::load(None)?;
            if c.database_url.is_none() && o.database_url.is_none() {
                c.database_url = Some("sqlite::memory:".into());
            }
            if std::env::var_os("LIVEGATE_DATA_DIR").is_none() && o.data_dir.is_none() {
                // The demo's data is throwaway: its own folder, so several demos never meet.
                c.data_dir =
                    std::env::temp_dir().join(format!("livegate-demo-{}", livegate_core::ids::random_token(6)));
            }
            o.apply(&mut c);
            (c, true)
        }
        Command::Serve { config, overrides } => {
            let mut c = Config::load(config.as_deref())?;
            overrides.apply(&mut c);
            (c, false)
        }
        Command::Audit {
            command: AuditCommand::Verify { config, database_url },
        } => {
            let mut c = Config::load(config.as_deref())?;
            c.database_url = database_url.or(c.database_url);
            return audit_verify(&c).await;
        }
    };
    let store = livegate::serve::open_store(&config, demo).await?;
    // Listening for SIGTERM before the ready line, so a signal sent just after it is not missed.
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let running = livegate::serve::serve(config, store).await?;
    if demo {
        eprintln!(
            "Livegate demo is running. Open {}://{} and sign in as teacher@demo.sch.uk / demo-teacher,\n\
             then in another browser (or a private window) as ada@pupils.demo.sch.uk / demo-pupil.",
            if running.https { "https" } else { "http" },
            running.http
        );
    }
    let scheme = if running.https { "https" } else { "http" };
    println!(
        "livegate ready http={scheme}://{} media={}",
        running.http, running.media
    );
    livegate::serve::until_signal(running, term).await
}

async fn audit_verify(config: &Config) -> anyhow::Result<()> {
    let store = Store::open(&config.database_url()).await?;
    match store.verify_audit().await? {
        Ok((entries, head)) => {
            println!("audit chain intact: {entries} entries, head {head}");
            Ok(())
        }
        Err(fault) => {
            println!("{fault}");
            std::process::exit(1);
        }
    }
}
