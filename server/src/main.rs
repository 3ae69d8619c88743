//! The `livegate` command: `livegate demo` runs the gateway with the demo school on embedded
//! defaults; `livegate serve` runs it from a configuration file.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use livegate::config::Config;
use livegate::directory::Directory;

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
    /// Run from a configuration file.
    Serve {
        /// A TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        overrides: Overrides,
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
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("LIVEGATE_LOG").unwrap_or_else(|_| "info,rtc=warn,rtc_dtls=error".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let (config, demo) = match cli.command {
        Command::Demo(o) => {
            let mut c = Config::load(None)?;
            o.apply(&mut c);
            (c, true)
        }
        Command::Serve { config, overrides } => {
            let mut c = Config::load(config.as_deref())?;
            overrides.apply(&mut c);
            (c, false)
        }
    };
    if !demo {
        anyhow::bail!("only the demo directory exists until the school directory lands; run `livegate demo`");
    }
    let running = livegate::http::serve(config, Directory::demo()).await?;
    eprintln!(
        "Livegate demo is running. Open http://{} and sign in as teacher@demo.sch.uk / demo-teacher,\n\
         then in another browser (or a private window) as ada@pupils.demo.sch.uk / demo-pupil.",
        running.http
    );
    println!("livegate ready http=http://{} media={}", running.http, running.media);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = running.task => { r??; }
        _ = tokio::signal::ctrl_c() => { eprintln!("shutting down"); }
        _ = term.recv() => { eprintln!("shutting down"); }
    }
    Ok(())
}
