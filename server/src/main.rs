//! The `livegate` command: `livegate demo` runs the gateway with the demo school on embedded
//! defaults; `livegate serve` runs it from a configuration file; `livegate school` and
//! `livegate keys`, `livegate backup` and `livegate restore` are the operator's commands
//! (`livegate::operator`); `livegate audit` checks the audit chain. This file parses and prints only.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use livegate::config::Config;
use livegate::operator::archive;
use livegate::operator::keys::Progress;
use livegate::operator::schools::{AddSchool, Invite};
use livegate::operator::{Operator, OperatorError};
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
    /// Create, list, disable schools and invite their superusers (the operator's commands).
    School {
        #[command(subcommand)]
        command: SchoolCommand,
    },
    /// Rotate a school's key-encryption key.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Back up the database and the keys folder (sealed to a passphrase) into a new folder,
    /// while the server runs or not.
    #[command(long_about = BACKUP_ABOUT)]
    Backup {
        /// The new folder to write (it must not exist, or be empty).
        #[arg(long)]
        out: PathBuf,
        /// A file holding the passphrase that seals the keys (at least 12 characters). Without
        /// it, the environment variable LIVEGATE_BACKUP_PASSPHRASE. Never on the command line.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// Restore a backup onto a fresh data folder and an empty database.
    #[command(long_about = RESTORE_ABOUT)]
    Restore {
        /// The backup folder `livegate backup` wrote.
        #[arg(long)]
        from: PathBuf,
        /// A file holding the backup's passphrase. Without it, the environment variable
        /// LIVEGATE_BACKUP_PASSPHRASE.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        target: Target,
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

const BACKUP_ABOUT: &str = "Back up the database and the keys folder into a new folder, while the \
server runs or not.

The folder gets a consistent snapshot of the database (SQLite: an online copy; PostgreSQL: \
`pg_dump`, which must be on PATH), the keys folder sealed to your passphrase (Argon2id and \
AES-256-GCM), and manifest.json (format, schema version, store, time, Livegate version, digests).

Recordings are NOT copied: they stay in the object store (the recordings folder or the S3 \
bucket); back that up by its own means. A restore points at the same store. Recordings still \
in the spool (not yet uploaded) are not in the backup either. Keys given by LIVEGATE_KEK_* \
variables are not in the keys folder: keep them safe separately (the command names those \
schools).";

const RESTORE_ABOUT: &str = "Restore a backup onto a fresh data folder and an empty database.

Give the target as for the server (--config, --data-dir, --database-url): its keys folder must \
be empty or absent and its database absent (SQLite) or without tables (PostgreSQL; \
`pg_restore` must be on PATH). The backup is checked first (format, schema version no newer \
than this Livegate's, every file's digest, the passphrase); nothing is written unless all pass, \
and a restore is never left half-done. The database is then brought to this Livegate's schema \
and its audit chain verified. Recordings are not in a backup: configure the same object store.";

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the chain; exits non-zero and says where if it is broken.
    Verify {
        #[command(flatten)]
        target: Target,
    },
}

/// Which installation an operator's command works on: the same configuration as the server's
/// (file, then `LIVEGATE_*` variables), with these flags last.
#[derive(Args)]
struct Target {
    /// The server's TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The database: `sqlite:path` or `postgres://...`.
    #[arg(long)]
    database_url: Option<String>,
    /// Where Livegate keeps its files (spool, recordings, keys).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl Target {
    fn config(&self) -> Result<Config, livegate::config::StartupError> {
        let mut c = Config::load(self.config.as_deref())?;
        if let Some(v) = &self.data_dir {
            c.data_dir = v.clone();
        }
        if let Some(v) = &self.database_url {
            c.database_url = Some(v.clone());
        }
        Ok(c)
    }
}

#[derive(Subcommand)]
enum SchoolCommand {
    /// Create a school, its key-encryption key and its first superuser; prints the
    /// superuser's one-time invite link (valid 72 hours).
    Add {
        /// The school's name, as people will see it.
        #[arg(long)]
        name: String,
        /// The school's time zone (an IANA name).
        #[arg(long, default_value = "Europe/London")]
        time_zone: String,
        /// The first superuser's email address.
        #[arg(long)]
        superuser: String,
        /// The first superuser's display name (default: the part of the email before the @).
        #[arg(long)]
        superuser_name: Option<String>,
        /// Where people open Livegate, for the link (default: `public_url` in the
        /// configuration, else the server's own address).
        #[arg(long)]
        public_url: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// List the schools: id, name, users, classes, live lessons, whether the key is present.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Disable a school: nobody signs in, no lesson runs, everyone in a live lesson is
    /// removed; its data is kept.
    Disable {
        /// The school's id (see `livegate school list`).
        #[arg(long)]
        school: String,
        #[command(flatten)]
        target: Target,
    },
    /// Print a new invite link for a superuser who lost theirs (their old link stops working).
    Invite {
        /// The school's id (see `livegate school list`).
        #[arg(long)]
        school: String,
        /// The superuser's email address.
        #[arg(long)]
        email: String,
        /// Where people open Livegate, for the link.
        #[arg(long)]
        public_url: Option<String>,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new key-encryption key for a school and re-wrap every recording's data key with
    /// it; run it again to finish a rotation that was interrupted. The old key is kept until
    /// you delete it.
    Rotate {
        /// The school's id (see `livegate school list`).
        #[arg(long)]
        school: String,
        /// Wait this long between recordings, to spare a shared object store.
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
        #[command(flatten)]
        target: Target,
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
        Command::School { command } => return school_command(command).await,
        Command::Keys { command } => return keys_command(command).await,
        Command::Backup {
            out,
            passphrase_file,
            target,
        } => return backup_command(&out, passphrase_file.as_deref(), &target).await,
        Command::Restore {
            from,
            passphrase_file,
            target,
        } => return restore_command(&from, passphrase_file.as_deref(), &target).await,
        Command::Audit {
            command: AuditCommand::Verify { target },
        } => return audit_verify(&target.config()?).await,
    };
    // The server's lines from here on are in its configured format (the operator's commands log as text).
    livegate::logs::set_format(config.log_format);
    let store = livegate::serve::open_store(&config, demo).await?;
    // Listening for SIGTERM before the ready line, so a signal sent just after it is not missed.
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let running = livegate::serve::serve(config, store).await?;
    if demo {
        livegate::logs::console(&format!(
            "Livegate demo is running. Open {}://{} and sign in as teacher@demo.sch.uk / demo-teacher,\n\
             then in another browser (or a private window) as ada@pupils.demo.sch.uk / demo-pupil.",
            if running.https { "https" } else { "http" },
            running.http
        ));
    }
    let scheme = if running.https { "https" } else { "http" };
    let metrics = running
        .metrics
        .map(|a| format!(" metrics=http://{a}"))
        .unwrap_or_default();
    println!(
        "livegate ready http={scheme}://{} media={}{metrics}",
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

/// Opens the installation a command names, with a public URL if one was given.
async fn operator(target: &Target, public_url: Option<String>) -> Result<Operator, OperatorError> {
    let mut config = target.config()?;
    if public_url.is_some() {
        config.public_url = public_url;
    }
    Operator::open(&config).await
}

/// Prints an operator's error and exits 1: the command changed nothing (a rotation stopped
/// where running it again resumes).
fn fail(e: OperatorError) -> ! {
    eprintln!("livegate: {e}");
    std::process::exit(1);
}

fn print_invite(invite: &Invite, what: &str) {
    let expires = jiff::Timestamp::from_millisecond(invite.expires_at)
        .map(|t| t.to_string())
        .unwrap_or_default();
    println!("{what}");
    println!("school: {}", invite.school);
    println!("superuser: {}", invite.user);
    println!("invite link (one use, until {expires}; give it to the superuser only):");
    println!("{}", invite.url);
}

async fn school_command(command: SchoolCommand) -> anyhow::Result<()> {
    match command {
        SchoolCommand::Add {
            name,
            time_zone,
            superuser,
            superuser_name,
            public_url,
            target,
        } => {
            let op = operator(&target, public_url).await.unwrap_or_else(|e| fail(e));
            let add = AddSchool {
                name,
                time_zone,
                superuser,
                superuser_name,
            };
            let invite = op.add_school(&add).await.unwrap_or_else(|e| fail(e));
            print_invite(&invite, "school created, with its key and its first superuser");
        }
        SchoolCommand::List { target } => {
            let op = operator(&target, None).await.unwrap_or_else(|e| fail(e));
            let schools = op.list_schools().await.unwrap_or_else(|e| fail(e));
            println!("id\tname\tusers\tclasses\tlive_lessons\tkey\tstate");
            for s in schools {
                let m = &s.summary;
                let state = if m.disabled_at.is_some() {
                    "disabled"
                } else {
                    "in service"
                };
                let key = if s.key_present { "present" } else { "missing" };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{key}\t{state}",
                    m.id, m.name, m.users, m.classes, m.live_lessons
                );
            }
        }
        SchoolCommand::Disable { school, target } => {
            let op = operator(&target, None).await.unwrap_or_else(|e| fail(e));
            match op.disable_school(&school).await.unwrap_or_else(|e| fail(e)) {
                true => println!(
                    "school {school} disabled: its users are signed out, its lessons refused; its data is kept"
                ),
                false => println!("school {school} was already disabled; nothing changed"),
            }
        }
        SchoolCommand::Invite {
            school,
            email,
            public_url,
            target,
        } => {
            let op = operator(&target, public_url).await.unwrap_or_else(|e| fail(e));
            let invite = op.invite_superuser(&school, &email).await.unwrap_or_else(|e| fail(e));
            print_invite(
                &invite,
                "a new invite link; any earlier link of this superuser no longer works",
            );
        }
    }
    Ok(())
}

async fn keys_command(command: KeysCommand) -> anyhow::Result<()> {
    let KeysCommand::Rotate {
        school,
        pause_ms,
        target,
    } = command;
    let op = operator(&target, None).await.unwrap_or_else(|e| fail(e));
    let pause = std::time::Duration::from_millis(pause_ms);
    let done = op
        .rotate_key(&school, pause, |p| {
            match p {
                Progress::Started {
                    new_key,
                    resumed,
                    recordings,
                } => {
                    let how = if resumed { "resuming the rotation" } else { "rotating" };
                    println!("{how} to key {new_key}: {recordings} recording(s)");
                }
                Progress::Rewrapped { recording, done, of } => println!("re-wrapped {recording} ({done} of {of})"),
                Progress::Promoted => println!("the new key is now the school's current key"),
            }
            // Progress is for a person watching (and a test that interrupts it): no buffering.
            let _ = std::io::Write::flush(&mut std::io::stdout());
        })
        .await
        .unwrap_or_else(|e| fail(e));
    println!(
        "school {}: every recording's data key now opens with key {} ({} recording(s); {} key copies re-wrapped by this run)",
        done.school, done.new_key, done.recordings, done.rewrapped
    );
    match done.old_key {
        Some((id, path)) => println!(
            "the old key {id} is kept at {}; no recording needs it any more, so it can be deleted",
            path.display()
        ),
        None => {
            println!("(an earlier run had already replaced the old key; its file can be deleted once this finished)")
        }
    }
    Ok(())
}

/// The passphrase from its file or the environment, or exit 1 saying how to give it.
fn passphrase(file: Option<&std::path::Path>) -> Vec<u8> {
    let env = std::env::var(archive::PASSPHRASE_ENV).ok();
    archive::passphrase(file, env).unwrap_or_else(|e| fail(e.into()))
}

async fn backup_command(out: &std::path::Path, file: Option<&std::path::Path>, target: &Target) -> anyhow::Result<()> {
    let passphrase = passphrase(file);
    let op = operator(target, None).await.unwrap_or_else(|e| fail(e));
    let done = op.backup(out, &passphrase).await.unwrap_or_else(|e| fail(e));
    let m = &done.manifest;
    println!(
        "backup written to {}: {} database at schema version {}, {} key file(s) sealed",
        done.dir.display(),
        m.store.name(),
        m.schema_version,
        done.key_files
    );
    println!("recordings are not in it: they stay in the object store");
    for school in &done.keys_elsewhere {
        println!("warning: school {school}'s key is not in the keys folder (an environment variable?): keep it safe separately");
    }
    Ok(())
}

async fn restore_command(
    from: &std::path::Path,
    file: Option<&std::path::Path>,
    target: &Target,
) -> anyhow::Result<()> {
    let passphrase = passphrase(file);
    let config = target.config().unwrap_or_else(|e| fail(e.into()));
    let done = livegate::operator::restore::restore(&config, from, &passphrase)
        .await
        .unwrap_or_else(|e| fail(e));
    println!(
        "restored the backup of {} (Livegate {}, schema version {}): database now at schema version {}, {} key file(s), audit chain intact ({} entries)",
        done.manifest.created_at,
        done.manifest.livegate_version,
        done.manifest.schema_version,
        done.schema_version,
        done.key_files,
        done.audit_entries
    );
    println!("recordings were not in the backup: point this installation at the same object store");
    Ok(())
}
