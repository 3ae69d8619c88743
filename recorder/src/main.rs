//! `livegate-recorder`: check and export recordings with the school's key file.
//!
//! `verify <recording>` opens the manifest and every segment (each must authenticate and match
//! its hash in the manifest) and prints the manifest's hash for comparison with the audit
//! chain; `export <recording> --out lesson.webm` decrypts and joins one stream, segment by
//! segment straight into the file, for handing on to police or social care; `keygen --out FILE` writes a new key-encryption key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use livegate_recorder::keys::{generate_hex, Kek};
use livegate_recorder::objstore::{ObjectStoreConfig, Objects};
use livegate_recorder::seal::DataKey;
use livegate_recorder::spool::{open_recording, open_segment, Manifest};
use livegate_recorder::webm;

const USAGE: &str = "usage:
  livegate-recorder verify <recording> --key-file FILE (--local DIR | --s3-endpoint URL --s3-bucket NAME [--s3-region R]) [--manifest-sha256 HEX]
  livegate-recorder export <recording> --key-file FILE (--local DIR | --s3-...) --out FILE [--stream s1]
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
        "export" => {
            let out = args.flags.get("out").ok_or("--out is required")?;
            let stream = args.flags.get("stream").cloned().unwrap_or_else(|| "s1".into());
            // Written beside the target and renamed when whole, so a failed export leaves no
            // file that looks finished.
            let part = PathBuf::from(format!("{out}.part"));
            let result = export(&objects, &key, &recording, &stream, &manifest, &part).await;
            match result {
                Ok(count) => {
                    std::fs::rename(&part, out).map_err(|e| e.to_string())?;
                    println!("exported {count} segments of stream {stream} to {out}");
                    Ok(())
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&part);
                    Err(e)
                }
            }
        }
        other => Err(format!("unknown command {other}")),
    }
}

/// Decrypts and joins one stream into `part`, one segment at a time: memory stays flat however
/// long the recording. Returns how many segments were joined.
async fn export(
    objects: &Objects,
    key: &DataKey,
    recording: &str,
    stream: &str,
    manifest: &Manifest,
    part: &Path,
) -> Result<usize, String> {
    let file = std::fs::File::create(part).map_err(|e| format!("{}: {e}", part.display()))?;
    let mut joiner = webm::Joiner::new(file);
    let mut count = 0;
    for info in manifest.segments.iter().filter(|s| s.stream == stream) {
        let segment = open_segment(objects, key, recording, info)
            .await
            .map_err(|e| format!("segment {}: {e}", info.index))?;
        joiner
            .push(&segment)
            .map_err(|e| format!("segment {}: {e}", info.index))?;
        count += 1;
    }
    if count == 0 {
        return Err(format!("recording {recording} has no segments of stream {stream}"));
    }
    joiner.finish().map_err(|e| e.to_string())?;
    Ok(count)
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
