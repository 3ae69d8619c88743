//! One segment's results (a JSON line) and the table built from many: per scenario and size,
//! each SFU's mean over its runs, the Livegate/Janus ratio of every figure, and capacity (the
//! largest size whose loss is under 0.5% and p99 added latency under 50 ms).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Loss and latency limits for capacity.
pub const MAX_LOSS_PCT: f64 = 0.5;
pub const MAX_P99_MS: f64 = 50.0;

/// The SFU name of Livegate runs with recording off (the bench server's `--recording off`).
pub const NO_RECORDING: &str = "livegate-norec";

/// The SFU name of Livegate runs with the send path before batching (`--unbatched`).
pub const UNBATCHED: &str = "livegate-unbatched";

#[derive(Serialize, Deserialize, Default, Clone, Debug)]
#[serde(default)]
pub struct RunResult {
    pub sfu: String,
    pub scenario: String,
    pub label: String,
    pub classes: usize,
    /// Subscribers in all classes.
    pub subscribers: usize,
    pub warmup_s: f64,
    pub measure_s: f64,
    pub srtp: String,
    pub trace: String,
    pub subscribers_connected: usize,
    pub subscribers_with_keyframe: usize,
    pub subscription_failures: usize,
    /// RTP packets subscribers received in the window.
    pub forwarded: u64,
    pub forwarded_pps: f64,
    pub server_cpu_s: Option<f64>,
    pub server_cpu_util: Option<f64>,
    pub server_us_per_pkt: Option<f64>,
    pub server_rss_base_kib: Option<u64>,
    pub server_rss_kib: Option<u64>,
    pub server_kib_per_subscriber: Option<f64>,
    pub server_threads: Option<u64>,
    pub loss_pct: f64,
    pub unmatched: u64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub join_p50_ms: Option<f64>,
    pub join_p99_ms: Option<f64>,
    /// Subscribe to ICE and DTLS connected, median (the rest of the join is the keyframe wait).
    pub connect_p50_ms: Option<f64>,
    pub generator_cpu_util: Option<f64>,
    /// The machine's one-minute load average at the end of the window (the box is shared).
    pub loadavg_1m: Option<f64>,
    pub publisher_packets: u64,
    pub keyframe_requests: u64,
    /// Where the join time went (crate::timeline).
    pub timeline: Option<crate::timeline::Timeline>,
    pub ok: bool,
    pub error: Option<String>,
}

impl RunResult {
    pub fn empty(sfu: &str, scenario: &str) -> RunResult {
        RunResult {
            sfu: sfu.into(),
            scenario: scenario.into(),
            ..Default::default()
        }
    }

    /// A one-line human summary.
    pub fn summary(&self) -> String {
        format!(
            "{} {} n={} ok={} fwd={:.0} pkt/s cpu={} us/pkt loss={:.3}% p50={} p99={} connect_p50={} join_p50={} gen_cpu={}{}",
            self.sfu,
            self.scenario,
            self.subscribers,
            self.ok,
            self.forwarded_pps,
            fmt(self.server_us_per_pkt, 2),
            self.loss_pct,
            fmt(self.latency_p50_ms, 2),
            fmt(self.latency_p99_ms, 2),
            fmt(self.connect_p50_ms, 0),
            fmt(self.join_p50_ms, 0),
            fmt(self.generator_cpu_util.map(|u| u * 100.0), 0),
            self.error.as_ref().map(|e| format!(" error={e}")).unwrap_or_default()
        )
    }

    /// Within the capacity limits.
    pub fn within_slo(&self) -> bool {
        self.ok && self.loss_pct < MAX_LOSS_PCT && self.latency_p99_ms.is_some_and(|p| p < MAX_P99_MS)
    }
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "-".into())
}

fn mean(xs: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = xs.flatten().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The mean of one SFU's runs at one size.
struct Row {
    runs: usize,
    ok_runs: usize,
    pps: Option<f64>,
    us_per_pkt: Option<f64>,
    cpu_util: Option<f64>,
    kib_per_sub: Option<f64>,
    loss: Option<f64>,
    p50: Option<f64>,
    p99: Option<f64>,
    join50: Option<f64>,
    join99: Option<f64>,
    gen_cpu: Option<f64>,
    load: Option<f64>,
    within_slo: bool,
}

fn row(runs: &[&RunResult]) -> Row {
    let ok: Vec<&&RunResult> = runs.iter().filter(|r| r.ok).collect();
    let m = |f: &dyn Fn(&RunResult) -> Option<f64>| mean(ok.iter().map(|r| f(r)));
    Row {
        runs: runs.len(),
        ok_runs: ok.len(),
        pps: m(&|r| Some(r.forwarded_pps)),
        us_per_pkt: m(&|r| r.server_us_per_pkt),
        cpu_util: m(&|r| r.server_cpu_util.map(|u| u * 100.0)),
        kib_per_sub: m(&|r| r.server_kib_per_subscriber),
        loss: m(&|r| Some(r.loss_pct)),
        p50: m(&|r| r.latency_p50_ms),
        p99: m(&|r| r.latency_p99_ms),
        join50: m(&|r| r.join_p50_ms),
        join99: m(&|r| r.join_p99_ms),
        gen_cpu: m(&|r| r.generator_cpu_util.map(|u| u * 100.0)),
        load: m(&|r| r.loadavg_1m),
        within_slo: !runs.is_empty() && runs.iter().all(|r| r.within_slo()),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.abs() > 1e-9 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

/// Reads JSON lines and prints the markdown table.
pub fn print(files: &[PathBuf]) -> Result<()> {
    let mut results = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
            results.push(serde_json::from_str::<RunResult>(line).with_context(|| format!("parsing {line}"))?);
        }
    }
    print!("{}", table(&results));
    Ok(())
}

/// The table as markdown.
pub fn table(results: &[RunResult]) -> String {
    // scenario -> (classes, subscribers) -> sfu -> runs
    type BySfu<'a> = BTreeMap<&'a str, Vec<&'a RunResult>>;
    let mut groups: BTreeMap<&str, BTreeMap<(usize, usize), BySfu>> = BTreeMap::new();
    for r in results {
        groups
            .entry(&r.scenario)
            .or_default()
            .entry((r.classes, r.subscribers))
            .or_default()
            .entry(&r.sfu)
            .or_default()
            .push(r);
    }
    let mut out = String::new();
    out.push_str("| scenario | subscribers | SFU | runs ok | forwarded pkt/s | server CPU µs/pkt | server CPU % | server KiB/subscriber | loss % | added latency p50 ms | p99 ms | subscribe→keyframe p50 ms | p99 ms | generator CPU % | box load 1m |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let mut capacity: Vec<String> = Vec::new();
    for (scenario, sizes) in &groups {
        let mut cap: BTreeMap<&str, Option<usize>> = BTreeMap::new();
        for ((classes, n), by_sfu) in sizes {
            let size = if *classes > 1 {
                format!("{n} ({classes}×{})", n / classes)
            } else {
                n.to_string()
            };
            let mut rows: BTreeMap<&str, Row> = BTreeMap::new();
            for (sfu, runs) in by_sfu {
                let r = row(runs);
                let entry = cap.entry(sfu).or_insert(None);
                if r.within_slo {
                    *entry = Some(entry.map_or(*n, |c: usize| c.max(*n)));
                }
                out.push_str(&format!(
                    "| {scenario} | {size} | {sfu} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    r.ok_runs,
                    r.runs,
                    fmt(r.pps, 0),
                    fmt(r.us_per_pkt, 2),
                    fmt(r.cpu_util, 0),
                    fmt(r.kib_per_sub, 1),
                    fmt(r.loss, 3),
                    fmt(r.p50, 2),
                    fmt(r.p99, 2),
                    fmt(r.join50, 0),
                    fmt(r.join99, 0),
                    fmt(r.gen_cpu, 0),
                    fmt(r.load, 2),
                ));
                rows.insert(sfu, r);
            }
            let pairs = [
                ("livegate", "janus", "*Livegate/Janus*"),
                ("livegate", NO_RECORDING, "*recording on/off*"),
                ("livegate", UNBATCHED, "*batched/unbatched*"),
            ];
            for (l, j, name) in pairs {
                let (Some(l), Some(j)) = (rows.get(l), rows.get(j)) else {
                    continue;
                };
                out.push_str(&format!(
                    "| {scenario} | {size} | {name} | | {} | {} | {} | {} | {} | {} | {} | {} | {} | | |\n",
                    ratio(l.pps, j.pps),
                    ratio(l.us_per_pkt, j.us_per_pkt),
                    ratio(l.cpu_util, j.cpu_util),
                    ratio(l.kib_per_sub, j.kib_per_sub),
                    ratio(l.loss, j.loss),
                    ratio(l.p50, j.p50),
                    ratio(l.p99, j.p99),
                    ratio(l.join50, j.join50),
                    ratio(l.join99, j.join99),
                ));
            }
        }
        let show = |sfu: &str| {
            cap.get(sfu)
                .copied()
                .flatten()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "none tested".into())
        };
        let r = match (
            cap.get("livegate").copied().flatten(),
            cap.get("janus").copied().flatten(),
        ) {
            (Some(l), Some(j)) => format!(" (Livegate/Janus {:.2}x)", l as f64 / j as f64),
            _ => String::new(),
        };
        if cap.contains_key("janus") {
            capacity.push(format!(
                "- {scenario}: Livegate {}, Janus {}{r}",
                show("livegate"),
                show("janus")
            ));
        } else {
            let all: Vec<String> = cap.keys().map(|sfu| format!("{sfu} {}", show(sfu))).collect();
            capacity.push(format!("- {scenario}: {}", all.join(", ")));
        }
    }
    out.push_str(&format!(
        "\nCapacity (largest subscriber count tested with loss < {MAX_LOSS_PCT}% and p99 added latency < {MAX_P99_MS} ms in every run):\n\n"
    ));
    for c in capacity {
        out.push_str(&c);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(sfu: &str, n: usize, loss: f64, p99: f64, us: f64) -> RunResult {
        RunResult {
            sfu: sfu.into(),
            scenario: "fanout".into(),
            classes: 1,
            subscribers: n,
            forwarded_pps: n as f64 * 200.0,
            server_us_per_pkt: Some(us),
            loss_pct: loss,
            latency_p50_ms: Some(1.0),
            latency_p99_ms: Some(p99),
            ok: true,
            ..Default::default()
        }
    }

    #[test]
    fn table_has_ratios_and_capacity() {
        let rs = vec![
            result("livegate", 10, 0.0, 2.0, 5.0),
            result("janus", 10, 0.0, 4.0, 20.0),
            result("livegate", 100, 0.1, 10.0, 5.0),
            result("janus", 100, 3.0, 80.0, 20.0),
        ];
        let t = table(&rs);
        assert!(
            t.contains("| fanout | 10 | *Livegate/Janus* | | 1.00x | 0.25x |"),
            "{t}"
        );
        assert!(
            t.contains("- fanout: Livegate 100, Janus 10 (Livegate/Janus 10.00x)"),
            "{t}"
        );
    }

    #[test]
    fn recording_on_off_has_its_own_ratio() {
        let mut rs = vec![
            result("livegate", 30, 0.0, 2.0, 6.0),
            result(NO_RECORDING, 30, 0.0, 2.0, 5.0),
        ];
        for r in &mut rs {
            r.scenario = "recording".into();
        }
        let t = table(&rs);
        assert!(
            t.contains("| recording | 30 | *recording on/off* | | 1.00x | 1.20x |"),
            "{t}"
        );
        assert!(t.contains("- recording: livegate 30, livegate-norec 30"), "{t}");
    }
}
