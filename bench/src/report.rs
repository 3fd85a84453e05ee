//! The output: one line per workload and implementation, medians, checks, peak memory.

use std::collections::BTreeMap;
use std::fmt;

/// Which implementation a figure is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Impl {
    /// Through the `domain` crate.
    Domain,
    /// Hand-written SQL through `sqlx`.
    Sqlx,
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Impl::Domain => "domain",
            Impl::Sqlx => "sqlx",
        })
    }
}

/// One timed workload: `ops` operations in `seconds`.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The workload's name, as in `bench/README.md`.
    pub workload: &'static str,
    /// Which implementation ran it.
    pub imp: Impl,
    /// Operations done.
    pub ops: u64,
    /// Wall-clock time they took.
    pub seconds: f64,
    /// CPU time this process (the client side: the layer under test, sqlx, tokio) spent
    /// meanwhile, when known.
    pub cpu_seconds: Option<f64>,
}

impl Measurement {
    /// Operations per second.
    pub fn ops_per_s(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ops as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// Microseconds of wall-clock time per operation.
    pub fn micros_per_op(&self) -> f64 {
        if self.ops == 0 {
            0.0
        } else {
            self.seconds * 1e6 / self.ops as f64
        }
    }
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "workload={} impl={} ops={} seconds={:.3} ops_per_s={:.1}",
            self.workload,
            self.imp,
            self.ops,
            self.seconds,
            self.ops_per_s()
        )
    }
}

/// The median of `values` (the mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Everything a bench invocation measured and checked.
#[derive(Debug, Default)]
pub struct Report {
    measurements: Vec<Measurement>,
    floors: Vec<f64>,
    failed_checks: usize,
}

impl Report {
    /// Prints a measurement and keeps it for the medians.
    pub fn record(&mut self, m: Measurement) {
        self.record_with(m, "");
    }

    /// Like [`Report::record`], with `extra` (` key=value …`) at the end of the line.
    pub fn record_with(&mut self, m: Measurement, extra: &str) {
        println!("{m}{extra}");
        if let Some(cpu) = m.cpu_seconds {
            println!(
                "# client_cpu workload={} impl={} us_per_op={:.1}",
                m.workload,
                m.imp,
                cpu * 1e6 / m.ops.max(1) as f64
            );
        }
        self.measurements.push(m);
    }

    /// Prints a correctness check and remembers a failure.
    pub fn check(&mut self, what: &str, ok: bool, detail: &str) {
        let verdict = if ok { "OK" } else { "FAILED" };
        println!("check {what}: {detail}: {verdict}");
        if !ok {
            self.failed_checks += 1;
        }
    }

    /// Prints and keeps a pgbench floor (transactions per second).
    pub fn floor(&mut self, tps: f64, clients: u32, transactions: u64, seconds: f64) {
        println!(
            "pgbench_floor clients={clients} transactions={transactions} seconds={seconds:.3} tps={tps:.1}"
        );
        self.floors.push(tps);
    }

    /// How many checks failed.
    pub fn failed_checks(&self) -> usize {
        self.failed_checks
    }

    /// The median measurement of each workload and implementation, in first-seen order.
    pub fn medians(&self) -> Vec<Measurement> {
        let mut order: Vec<(&'static str, Impl)> = Vec::new();
        let mut seconds: BTreeMap<(&'static str, Impl), (u64, Vec<f64>)> = BTreeMap::new();
        for m in &self.measurements {
            let key = (m.workload, m.imp);
            if !order.contains(&key) {
                order.push(key);
            }
            let entry = seconds.entry(key).or_insert((m.ops, Vec::new()));
            entry.1.push(m.seconds);
        }
        order
            .into_iter()
            .filter_map(|key| {
                seconds.get(&key).map(|(ops, s)| Measurement {
                    workload: key.0,
                    imp: key.1,
                    ops: *ops,
                    seconds: median(s),
                    cpu_seconds: None,
                })
            })
            .collect()
    }

    /// Prints the medians, the domain/sqlx ratios and the job queue against the floor.
    pub fn print_summary(&self, runs: usize) {
        let medians = self.medians();
        println!("# median of {runs} run(s)");
        for m in &medians {
            println!("{m}");
        }
        let find = |w: &str, i: Impl| medians.iter().find(|m| m.workload == w && m.imp == i);
        for m in medians.iter().filter(|m| m.imp == Impl::Domain) {
            if let Some(base) = find(m.workload, Impl::Sqlx) {
                println!(
                    "ratio workload={} domain_us_per_op={:.1} sqlx_us_per_op={:.1} domain_over_sqlx={:.2}",
                    m.workload,
                    m.micros_per_op(),
                    base.micros_per_op(),
                    m.micros_per_op() / base.micros_per_op().max(f64::MIN_POSITIVE)
                );
            }
        }
        if let Some(plain) = find("job_queue", Impl::Domain) {
            for workload in [
                "job_queue_features",
                "job_queue_batched",
                "job_queue_capped",
            ] {
                if let Some(m) = find(workload, Impl::Domain) {
                    println!(
                        "pipeline workload={workload} ops_per_s={:.1} job_queue_ops_per_s={:.1} share_of_job_queue={:.2}",
                        m.ops_per_s(),
                        plain.ops_per_s(),
                        m.ops_per_s() / plain.ops_per_s().max(f64::MIN_POSITIVE)
                    );
                }
            }
        }
        if !self.floors.is_empty() {
            let floor = median(&self.floors);
            println!("pgbench_floor median_tps={floor:.1}");
            for imp in [Impl::Domain, Impl::Sqlx] {
                if let Some(q) = find("job_queue", imp) {
                    println!(
                        "job_queue impl={imp} ops_per_s={:.1} share_of_floor={:.2}",
                        q.ops_per_s(),
                        q.ops_per_s() / floor
                    );
                }
            }
        }
    }
}

/// The process's peak resident set (`VmHWM` of `/proc/self/status`), in MiB.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time (user and system) of this process so far, in seconds, from `/proc/self/stat`.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after it are counted from its `)`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports these in clock ticks of USER_HZ, 100 per second on every common build.
    Some((utime + stime) / 100.0)
}

/// Wall-clock and process CPU time from a start.
#[derive(Debug, Clone, Copy)]
pub struct Timer {
    started: std::time::Instant,
    cpu: Option<f64>,
}

impl Timer {
    /// Starts timing.
    pub fn start() -> Self {
        Self {
            started: std::time::Instant::now(),
            cpu: process_cpu_seconds(),
        }
    }

    /// The measurement of `ops` operations of `workload` by `imp` since the start.
    pub fn measurement(&self, workload: &'static str, imp: Impl, ops: u64) -> Measurement {
        let seconds = self.started.elapsed().as_secs_f64();
        let cpu_seconds = match (self.cpu, process_cpu_seconds()) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        Measurement {
            workload,
            imp,
            ops,
            seconds,
            cpu_seconds,
        }
    }
}
