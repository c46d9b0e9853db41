//! Bundle generation time per service, all stages in memory (no job table), release
//! build: `cargo bench --bench pipeline [-- s3 sns ...]`. Prints p50/p95/max per
//! service over 20 runs after 2 warm-up runs. Numbers are reported in
//! docs/PERFORMANCE.md with the machine they were measured on.

use std::sync::Arc;
use std::time::Instant;

use seccfg::input::Profile;
use seccfg::knowledge::Knowledge;
use seccfg::pipeline::run_all;

fn main() {
    // `cargo test --all-targets` also runs benches, without `--bench`: then one smoke run per service.
    let measuring = std::env::args().any(|a| a == "--bench");
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let started = Instant::now();
    let catalog = Arc::new(Knowledge::load_default().expect("catalog and knowledge load"));
    println!("catalog load: {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    let profile_path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/profiles/fin-prod.json");
    let profile = Profile::from_slice(&std::fs::read(profile_path).unwrap()).unwrap().0;
    let services: Vec<String> =
        if args.is_empty() { catalog.controls().services().map(|s| s.service.clone()).collect() } else { args };
    println!("{:<22} {:>8} {:>8} {:>8}", "service", "p50 ms", "p95 ms", "max ms");
    let mut all = Vec::new();
    for service in &services {
        let mut times = Vec::new();
        let (warmup, runs) = if measuring { (2, 22) } else { (0, 1) };
        for i in 0..runs {
            let t = Instant::now();
            run_all(&catalog, &profile, service).unwrap_or_else(|(s, e)| panic!("{service}: {s:?}: {e}"));
            if i >= warmup {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        println!("{service:<22} {:>8.1} {:>8.1} {:>8.1}", pct(0.5), pct(0.95), times[times.len() - 1]);
        all.extend(times);
    }
    all.sort_by(f64::total_cmp);
    println!("all services: p50 {:.1} ms over {} bundles", all[all.len() / 2], all.len());
}
