//! `livegate-recorder`: check and export recordings with the school's key file.
//!
//! `verify <recording>` opens the manifest and every segment (each must authenticate and match
//! its hash in the manifest) and prints the manifest's hash for comparison with the audit
//! chain; `list <recording>` prints its timelines (one per person and kind, named as the lesson
//! showed them: "Ms Rivera, camera"); `export <recording> --out lesson.webm` decrypts and joins
//! one timeline, segment by segment straight into the file, and `--out-dir DIR` every timeline,
//! each file named and titled as the leader's player names it, for handing on to police or
//! social care; `keygen --out FILE` writes a new key-encryption key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use livegate_recorder::keys::{generate_hex, Kek};
use livegate_recorder::objstore::{ObjectStoreConfig, Objects};
use livegate_recorder::seal::DataKey;
use livegate_recorder::spool::{open_recording, open_segment, Manifest};
use livegate_recorder::timeline::{timelines, Timeline};
use livegate_recorder::webm;

const USAGE: &str = "usage:
  livegate-recorder verify <recording> --key-file FILE (--local DIR | --s3-endpoint URL --s3-bucket NAME [--s3-region R]) [--manifest-sha256 HEX]
  livegate-recorder list <recording> --key-file FILE (--local DIR | --s3-...)
  livegate-recorder export <recording> --key-file FILE (--local DIR | --s3-...) (--out FILE [--stream s1] | --out-dir DIR)
  livegate-recorder keygen --out FILE
S3 credentials come from LIVEGATE_S3_ACCESS_KEY and LIVEGATE_S3_SECRET_KEY.";

struct Args {
    command: String,
    recording: Option<String>,
    flags: std::collections::HashMap<String, String>,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let command = it.next().ok_or("no command")?;
    let mut recording = None;
    let mut flags = std::collections::HashMap::new();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            flags.insert(name.to_owned(), it.next().ok_or(format!("--{name} needs a value"))?);
        } else if recording.is_none() {
            recording = Some(a);
        } else {
            return Err(format!("unexpected argument {a}"));
        }
    }
    Ok(Args {
        command,
        recording,
        flags,
    })
}

fn objects(flags: &std::collections::HashMap<String, String>) -> Result<Objects, String> {
    let config = if let Some(dir) = flags.get("local") {
        ObjectStoreConfig::Local {
            path: PathBuf::from(dir),
        }
    } else if let Some(endpoint) = flags.get("s3-endpoint") {
        ObjectStoreConfig::S3 {
            endpoint: endpoint.clone(),
            region: flags.get("s3-region").cloned().unwrap_or_else(|| "garage".into()),
            bucket: flags.get("s3-bucket").cloned().ok_or("--s3-bucket is required")?,
            access_key: std::env::var("LIVEGATE_S3_ACCESS_KEY").map_err(|_| "LIVEGATE_S3_ACCESS_KEY is not set")?,
            secret_key: std::env::var("LIVEGATE_S3_SECRET_KEY").map_err(|_| "LIVEGATE_S3_SECRET_KEY is not set")?,
        }
    } else {
        return Err("say where the recordings are: --local DIR or --s3-endpoint URL".into());
    };
    Objects::open(&config).map_err(|e| e.to_string())
}

async fn run(args: Args) -> Result<(), String> {
    if args.command == "keygen" {
        let out = args.flags.get("out").ok_or("--out is required")?;
        let hex = generate_hex().map_err(|e| e.to_string())?;
        std::fs::write(out, format!("{hex}\n")).map_err(|e| e.to_string())?;
        println!("wrote a new key to {out}; keep it secret and backed up");
        return Ok(());
    }
    let recording = args.recording.clone().ok_or("which recording?")?;
    let kek = Kek::from_file(args.flags.get("key-file").ok_or("--key-file is required")?.as_ref())
        .map_err(|e| e.to_string())?;
    let objects = objects(&args.flags)?;
    let (manifest, key, hash) = open_recording(&objects, &kek, &recording)
        .await
        .map_err(|e| format!("manifest: {e}"))?;
    match args.command.as_str() {
        "verify" => {
            for info in &manifest.segments {
                open_segment(&objects, &key, &recording, info)
                    .await
                    .map_err(|e| format!("segment {}: {e}", info.index))?;
            }
            if let Some(expected) = args.flags.get("manifest-sha256") {
                if !expected.eq_ignore_ascii_case(&hash) {
                    return Err(format!(
                        "the manifest's hash {hash} is not the one in the audit chain ({expected})"
                    ));
                }
            }
            println!(
                "recording {recording}: {} segments verified, status {:?}, manifest sha256 {hash}",
                manifest.segments.len(),
                manifest.status
            );
            Ok(())
        }
        "list" => {
            for t in timelines(&manifest) {
                let (start, end) = t.span();
                let parts = t.parts.len();
                println!(
                    "{}\t{}-{}\t{parts} part{}\t{}",
                    t.label,
                    clock(start),
                    clock(end),
                    if parts == 1 { "" } else { "s" },
                    t.title
                );
            }
            Ok(())
        }
        "export" => {
            let all = timelines(&manifest);
            if let Some(dir) = args.flags.get("out-dir") {
                std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
                for t in &all {
                    let out = Path::new(dir).join(t.file_name());
                    export_one(&objects, &key, &recording, &manifest, t, &out).await?;
                }
                println!("exported {} timelines of recording {recording} to {dir}", all.len());
                return Ok(());
            }
            let out = args.flags.get("out").ok_or("--out or --out-dir is required")?;
            // A stream's label picks the timeline it is part of; the first (the teacher's
            // camera) by default.
            let chosen = match args.flags.get("stream") {
                Some(label) => all.iter().find(|t| t.parts.iter().any(|p| &p.stream == label)),
                None => all.first(),
            };
            let t = chosen.ok_or_else(|| {
                let which = args
                    .flags
                    .get("stream")
                    .map_or(String::new(), |l| format!(" of stream {l}"));
                format!("recording {recording} has no segments{which}")
            })?;
            export_one(&objects, &key, &recording, &manifest, t, Path::new(out)).await
        }
        other => Err(format!("unknown command {other}")),
    }
}

/// mm:ss or h:mm:ss.
fn clock(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Exports one timeline to `out`: written beside it and renamed when whole, so a failed export
/// leaves no file that looks finished.
async fn export_one(
    objects: &Objects,
    key: &DataKey,
    recording: &str,
    manifest: &Manifest,
    timeline: &Timeline,
    out: &Path,
) -> Result<(), String> {
    let mut part = out.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    match export(objects, key, recording, manifest, timeline, &part).await {
        Ok(count) => {
            std::fs::rename(&part, out).map_err(|e| e.to_string())?;
            println!(
                "exported {count} segments of {} ({}) to {}",
                timeline.label,
                timeline.title,
                out.display()
            );
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

/// Decrypts and joins one timeline into `part`, one segment at a time: memory stays flat
/// however long the recording. Returns how many segments were joined.
async fn export(
    objects: &Objects,
    key: &DataKey,
    recording: &str,
    manifest: &Manifest,
    timeline: &Timeline,
    part: &Path,
) -> Result<usize, String> {
    let file = std::fs::File::create(part).map_err(|e| format!("{}: {e}", part.display()))?;
    let mut joiner = webm::Joiner::new(file).titled(&timeline.title);
    for info in timeline.segments.iter().map(|&i| &manifest.segments[i]) {
        let segment = open_segment(objects, key, recording, info)
            .await
            .map_err(|e| format!("segment {}: {e}", info.index))?;
        joiner
            .push(&segment)
            .map_err(|e| format!("segment {}: {e}", info.index))?;
    }
    joiner.finish().map_err(|e| e.to_string())?;
    Ok(timeline.segments.len())
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match parse() {
        Ok(args) => run(args).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("livegate-recorder: {e}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}
