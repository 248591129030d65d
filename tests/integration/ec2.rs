//! Whole `ec2-instance` and `ebs-volume` drills against `LocalStack`: the
//! example scenarios, a disaster-recovery copy, a failed comparison, and a
//! run killed during its restore and reaped afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification, VolumeType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Ran, Workspace, ec2_endpoint, require};

const RUN_ID_TAG: &str = "firedrill:run-id";
const DR_REGION: &str = "us-west-2";

/// An EC2 client for the emulator in `region`.
pub(crate) fn ec2(region: &str) -> Client {
    require(&ec2_endpoint());
    let conf = aws_sdk_ec2::config::Builder::new()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new(region.to_string()))
        .endpoint_url(ec2_endpoint())
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    Client::from_conf(conf)
}

fn tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect()
}

fn tag_spec(rtype: ResourceType, pairs: &[(&str, &str)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rtype)
        .set_tags(Some(tags(pairs)))
        .build()
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// An AMI `LocalStack` ships, for source instances: the Ubuntu one if present.
async fn source_ami(ec2: &Client) -> String {
    let out = ec2
        .describe_images()
        .filters(filter("name", "ubuntu/images/*"))
        .send()
        .await
        .unwrap();
    let mut ids: Vec<String> = out
        .images()
        .iter()
        .filter_map(|i| i.image_id().map(str::to_string))
        .collect();
    ids.sort();
    ids.into_iter()
        .next()
        .expect("LocalStack lists its built-in Ubuntu AMIs")
}

/// Launch the source instance (tagged like a real workload); returns its id.
pub(crate) async fn launch_source(ec2: &Client, name: &str) -> String {
    let ami = source_ami(ec2).await;
    let out = ec2
        .run_instances()
        .image_id(ami)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .tag_specifications(tag_spec(
            ResourceType::Instance,
            &[("Name", name), ("app", "shop")],
        ))
        .send()
        .await
        .unwrap();
    out.instances()[0].instance_id().unwrap().to_string()
}

/// Create a source volume (io1, encrypted, tagged); returns its id.
pub(crate) async fn create_source_volume(ec2: &Client, name: &str) -> String {
    let out = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(5)
        .volume_type(VolumeType::Io1)
        .iops(200)
        .encrypted(true)
        .tag_specifications(tag_spec(
            ResourceType::Volume,
            &[("Name", name), ("app", "shop")],
        ))
        .send()
        .await
        .unwrap();
    out.volume_id().unwrap().to_string()
}

/// An unrelated, untagged volume the drills must not touch.
async fn create_bystander_volume(ec2: &Client) -> String {
    let out = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(1)
        .send()
        .await
        .unwrap();
    out.volume_id().unwrap().to_string()
}

pub(crate) async fn instance_state(ec2: &Client, id: &str) -> Option<String> {
    let out = ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .ok()?;
    out.reservations()
        .iter()
        .flat_map(aws_sdk_ec2::types::Reservation::instances)
        .next()
        .and_then(|i| i.state()?.name().map(|n| n.as_str().to_string()))
}

async fn volume_tags(ec2: &Client, id: &str) -> Option<BTreeMap<String, String>> {
    let out = ec2.describe_volumes().volume_ids(id).send().await.ok()?;
    out.volumes().first().map(|v| {
        v.tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect()
    })
}

pub(crate) async fn volume_exists(ec2: &Client, id: &str) -> bool {
    volume_tags(ec2, id).await.is_some()
}

pub(crate) async fn terminate(ec2: &Client, id: &str) {
    let _ = ec2.terminate_instances().instance_ids(id).send().await;
}

pub(crate) async fn delete_volume(ec2: &Client, id: &str) {
    let _ = ec2.delete_volume().volume_id(id).send().await;
}

/// Everything in `region` that carries `run_id`: live instances, images
/// (by tag or name), snapshots and volumes.
pub(crate) async fn leftovers(region: &str, run_id: &str) -> Vec<String> {
    let ec2 = ec2(region);
    let mut left = Vec::new();
    let tagged = filter(&format!("tag:{RUN_ID_TAG}"), run_id);
    let out = ec2
        .describe_instances()
        .filters(tagged.clone())
        .send()
        .await
        .unwrap();
    for i in out
        .reservations()
        .iter()
        .flat_map(aws_sdk_ec2::types::Reservation::instances)
    {
        let state = i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string());
        if state.as_deref() != Some("terminated") {
            left.push(format!("instance {:?} ({state:?})", i.instance_id()));
        }
    }
    let images = ec2.describe_images().owners("self").send().await.unwrap();
    for i in images.images() {
        let by_tag = i
            .tags()
            .iter()
            .any(|t| t.key() == Some(RUN_ID_TAG) && t.value() == Some(run_id));
        if by_tag || i.name().is_some_and(|n| n.contains(run_id)) {
            left.push(format!("image {:?} {:?}", i.image_id(), i.name()));
        }
    }
    let snaps = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(tagged.clone())
        .send()
        .await
        .unwrap();
    for s in snaps.snapshots() {
        left.push(format!("snapshot {:?}", s.snapshot_id()));
    }
    let vols = ec2.describe_volumes().filters(tagged).send().await.unwrap();
    for v in vols.volumes() {
        left.push(format!("volume {:?}", v.volume_id()));
    }
    left
}

/// Whether a snapshot id still exists.
async fn snapshot_exists(region: &str, id: &str) -> bool {
    ec2(region)
        .describe_snapshots()
        .snapshot_ids(id)
        .send()
        .await
        .is_ok_and(|o| !o.snapshots().is_empty())
}

/// The example scenario with the named resource replaced, and `edit`
/// applied to its text.
pub(crate) fn example(
    file: &str,
    placeholder: &str,
    id: &str,
    edit: impl Fn(String) -> String,
) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(placeholder), "{file} names {placeholder}");
    edit(text.replace(placeholder, id))
}

/// Point a scenario's endpoint somewhere else (the delaying proxy).
fn with_endpoint(text: &str, endpoint: &str) -> String {
    text.replace("http://127.0.0.1:4566", endpoint)
}

async fn run_cli(ws: &Workspace, file: &Path) -> Ran {
    let f = ws.firedrill().args(["run", "--yes"]).arg(file);
    tokio::task::spawn_blocking(move || f.run()).await.unwrap()
}

fn stage<'a>(target: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    target["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap_or_else(|| panic!("no stage {name}: {target}"))
}

/// Assert the common shape of a passed emulator drill and print its timings.
fn assert_passed(report: &serde_json::Value, kind: &str, wall: Duration) {
    assert_eq!(report["verdict"], "passed", "{report:#}");
    let t = &report["targets"][0];
    assert_eq!(t["kind"], kind);
    assert_eq!(t["rto"]["met"], true, "{t:#}");
    assert_eq!(t["rto"]["emulated"], true);
    for s in t["stages"].as_array().unwrap() {
        assert_eq!(s["emulated"], true, "stage not marked emulated: {s}");
        assert_eq!(s["outcome"], "passed", "{s}");
    }
    for stage_name in ["backup", "restore"] {
        let s = stage(t, stage_name);
        assert!(
            s["facts"]["probes"].as_str().is_some(),
            "{stage_name} waited with poll_until: {s}"
        );
    }
    assert!(
        t["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "emulated"),
        "{t:#}"
    );
    assert_eq!(report["cleanup"]["complete"], true);
    let bounds: Vec<String> = t["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}ms ±{}ms",
                s["stage"].as_str().unwrap(),
                s["timing"]["duration_ms"],
                s["timing"]["error_ms"]
            )
        })
        .collect();
    eprintln!(
        "{kind} drill: wall {}ms; RTO {}ms ±{}ms; stages: {}",
        wall.as_millis(),
        t["rto"]["value_ms"],
        t["rto"]["error_ms"],
        bounds.join(", ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_instance_drill_passes_starts_the_source_again_and_leaves_nothing_behind() {
    let ec2 = ec2("us-east-1");
    let source = launch_source(&ec2, "fd-web").await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "ec2-instance",
        &example("ec2-instance.toml", "i-0123456789abcdef0", &source, |t| t),
    );
    let started = Instant::now();
    let ran = run_cli(&ws, &file).await;
    let wall = started.elapsed();
    let state = instance_state(&ec2, &source).await;
    terminate(&ec2, &source).await;
    ran.code(0);
    assert_eq!(
        state.as_deref(),
        Some("running"),
        "the fault stopped the source, the revert started it again"
    );
    let report = ws.report("ec2-instance");
    assert_passed(&report, "ec2-instance", wall);
    let policy = crate::iam::assert_policy_allows_the_run(&ws, &file, &report);
    crate::iam::assert_ec2_instance_policy(&policy, &source);
    let t = &report["targets"][0];
    assert_eq!(
        stage(t, "revert")["detail"],
        format!("started instance {source} again")
    );
    let backup = stage(t, "backup");
    let image = backup["facts"]["image_id"].as_str().unwrap();
    assert!(image.starts_with("ami-"), "{backup}");
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    assert!(
        ec2.describe_images().image_ids(image).send().await.is_err()
            || ec2
                .describe_images()
                .image_ids(image)
                .send()
                .await
                .unwrap()
                .images()
                .is_empty(),
        "AMI {image} was deregistered"
    );
    for snap in backup["facts"]["snapshots"].as_str().unwrap().split(',') {
        assert!(
            !snapshot_exists("us-east-1", snap).await,
            "{snap} left behind"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_instance_drill_in_dr_region_leaves_both_regions_clean() {
    let ec2 = ec2("us-east-1");
    let source = launch_source(&ec2, "fd-web-dr").await;
    let ws = Workspace::new();
    let text = example("ec2-instance.toml", "i-0123456789abcdef0", &source, |t| {
        t.replace("action = \"stop\"", "action = \"reboot\"")
            .replace("# dr_region = \"us-west-2\"", "dr_region = \"us-west-2\"")
    });
    let file = ws.scenario("ec2-dr", &text);
    let started = Instant::now();
    let ran = run_cli(&ws, &file).await;
    let wall = started.elapsed();
    terminate(&ec2, &source).await;
    ran.code(0);
    let report = ws.report("ec2-instance");
    assert_passed(&report, "ec2-instance", wall);
    let t = &report["targets"][0];
    assert_eq!(stage(t, "copy")["facts"]["dr_region"], DR_REGION);
    assert_eq!(stage(t, "restore")["facts"]["region"], DR_REGION);
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    assert_eq!(leftovers(DR_REGION, run_id).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// Regression: the shipped `ebs-volume` example (fault `delete`) ended with
/// the named volume deleted and its snapshot deleted by cleanup: no copy
/// left. The snapshot is now retained, tagged, reported with the command
/// that restores the volume, and left alone by reap.
async fn ebs_volume_delete_retains_the_snapshot_and_says_how_to_restore() {
    let ec2 = ec2("us-east-1");
    let source = create_source_volume(&ec2, "fd-data").await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "ebs-volume",
        &example("ebs-volume.toml", "vol-0123456789abcdef0", &source, |t| t),
    );
    let started = Instant::now();
    let ran = run_cli(&ws, &file).await;
    let wall = started.elapsed();
    let after = volume_tags(&ec2, &source).await;
    ran.code(0);
    assert!(after.is_none(), "the `delete` fault deleted the source");
    let report = ws.report("ebs-volume");
    assert_passed(&report, "ebs-volume", wall);
    let policy = crate::iam::assert_policy_allows_the_run(&ws, &file, &report);
    crate::iam::assert_no_terminate(&policy);
    let t = &report["targets"][0];
    let snapshot = stage(t, "backup")["facts"]["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    let kept = t["retained"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{t:#}");
    let restore = kept[0]["restore"].as_str().unwrap();
    assert!(
        restore.contains(&format!("create-volume --snapshot-id {snapshot}")),
        "{restore}"
    );
    assert!(
        ran.stdout.contains("kept as the copy of damaged data"),
        "{}",
        ran.stdout
    );
    let run_id = report["run_id"].as_str().unwrap().to_string();
    let left = leftovers("us-east-1", &run_id).await;
    assert_eq!(left.len(), 1, "only the snapshot stays: {left:?}");
    assert!(left[0].contains(&snapshot), "{left:?}");
    let tags = ec2
        .describe_snapshots()
        .snapshot_ids(&snapshot)
        .send()
        .await
        .unwrap();
    let retained_tag = tags.snapshots()[0]
        .tags()
        .iter()
        .any(|t| t.key() == Some("firedrill:retained"));
    assert!(retained_tag, "the snapshot says why it is kept");
    let reaped = ws.firedrill().arg("reap").run();
    reaped.code(0);
    assert!(reaped.stdout.contains("keep snapshot"), "{}", reaped.stdout);
    assert_eq!(
        leftovers("us-east-1", &run_id).await.len(),
        1,
        "reap kept it"
    );
    ec2.delete_snapshot()
        .snapshot_id(&snapshot)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebs_volume_drill_in_dr_region_leaves_both_regions_clean() {
    let ec2 = ec2("us-east-1");
    let source = create_source_volume(&ec2, "fd-data-dr").await;
    let ws = Workspace::new();
    let text = example("ebs-volume.toml", "vol-0123456789abcdef0", &source, |t| {
        t.replace("action = \"delete\"", "action = \"none\"")
            .replace("# dr_region = \"us-west-2\"", "dr_region = \"us-west-2\"")
    });
    let file = ws.scenario("ebs-dr", &text);
    let started = Instant::now();
    let ran = run_cli(&ws, &file).await;
    let wall = started.elapsed();
    let tags_after = volume_tags(&ec2, &source).await;
    delete_volume(&ec2, &source).await;
    ran.code(0);
    let tags_after = tags_after.expect("fault `none` leaves the source");
    assert!(
        !tags_after.contains_key(RUN_ID_TAG),
        "the source was not tagged: {tags_after:?}"
    );
    let report = ws.report("ebs-volume");
    assert_passed(&report, "ebs-volume", wall);
    let t = &report["targets"][0];
    assert_eq!(stage(t, "restore")["facts"]["region"], DR_REGION);
    assert!(
        stage(t, "restore")["facts"]["availability_zone"]
            .as_str()
            .unwrap()
            .starts_with(DR_REGION)
    );
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    assert_eq!(leftovers(DR_REGION, run_id).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebs_volume_type_override_fails_the_comparison() {
    let ec2 = ec2("us-east-1");
    let source = create_source_volume(&ec2, "fd-data-mismatch").await;
    let ws = Workspace::new();
    let text = example("ebs-volume.toml", "vol-0123456789abcdef0", &source, |t| {
        t.replace("action = \"delete\"", "action = \"none\"")
            .replace(
                "# availability_zone = \"us-east-1b\"",
                "volume_type = \"gp3\"",
            )
    });
    let file = ws.scenario("ebs-mismatch", &text);
    let ran = run_cli(&ws, &file).await;
    delete_volume(&ec2, &source).await;
    ran.code(1);
    let report = ws.report("ebs-volume");
    assert_eq!(report["verdict"], "failed");
    let t = &report["targets"][0];
    let check = t["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "volume type")
        .unwrap();
    assert_eq!(check["status"], "failed", "{check}");
    assert_eq!(check["expected"], "io1");
    assert_eq!(check["actual"], "gp3");
    let codes: Vec<&str> = t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"ebs.volume-type-mismatch"), "{codes:?}");
    assert!(codes.contains(&"rto.not-recovered"), "{codes:?}");
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_instance_type_override_fails_the_comparison() {
    let ec2 = ec2("us-east-1");
    let source = launch_source(&ec2, "fd-web-mismatch").await;
    let ws = Workspace::new();
    let text = example("ec2-instance.toml", "i-0123456789abcdef0", &source, |t| {
        t.replace("action = \"stop\"", "action = \"none\"").replace(
            "# instance_type = \"t3.small\"",
            "instance_type = \"t3.small\"",
        )
    });
    let file = ws.scenario("ec2-mismatch", &text);
    let ran = run_cli(&ws, &file).await;
    let state = instance_state(&ec2, &source).await;
    terminate(&ec2, &source).await;
    ran.code(1);
    assert_eq!(
        state.as_deref(),
        Some("running"),
        "fault `none` left it alone"
    );
    let report = ws.report("ec2-instance");
    let t = &report["targets"][0];
    let check = t["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "instance type")
        .unwrap();
    assert_eq!(check["status"], "failed", "{check}");
    assert_eq!(check["expected"], "t3.micro");
    assert_eq!(check["actual"], "t3.small");
    assert!(
        t["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "ec2.instance-type-mismatch" && f["severity"] == "error"),
        "{t:#}"
    );
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
}

// --- Crash during restore ------------------------------------------------------

/// A loopback HTTP proxy to the emulator that holds every request whose body
/// contains `hold` for `delay` before passing it on: the create call is then
/// in flight, after the ledger intent, when the test kills the run, and it
/// still reaches the emulator, as a request would reach AWS.
struct DelayProxy {
    endpoint: String,
    /// Requests being held.
    held: Arc<AtomicUsize>,
    /// Held requests already passed on.
    forwarded: Arc<AtomicUsize>,
}

async fn delay_proxy(hold: &'static str, delay: Duration) -> DelayProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let upstream = ec2_endpoint()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let forwarded = Arc::new(AtomicUsize::new(0));
    let held_count = Arc::new(AtomicUsize::new(0));
    let counter = forwarded.clone();
    let holding = held_count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let upstream = upstream.clone();
            let counter = counter.clone();
            let holding = holding.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                });
                while let Some(request) = read_request(&mut cr).await {
                    let held = request.windows(hold.len()).any(|w| w == hold.as_bytes());
                    if held {
                        holding.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(delay).await;
                    }
                    if sw.write_all(&request).await.is_err() {
                        return;
                    }
                    if held {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    DelayProxy {
        endpoint,
        held: held_count,
        forwarded,
    }
}

/// One HTTP/1.1 request (headers and a `Content-Length` body), or `None` at EOF.
async fn read_request(r: &mut tokio::net::tcp::OwnedReadHalf) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    let header_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = r.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let n = r.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    Some(buf)
}

/// The ledger of the single run of `scenario`, once it exists.
fn ledger_path(ws: &Workspace, scenario: &str) -> Option<PathBuf> {
    let dir = ws.reports().join(scenario);
    let run = std::fs::read_dir(dir).ok()?.flatten().next()?.path();
    let p = run.join("ledger.jsonl");
    p.exists().then_some(p)
}

fn ledger_has_intent(path: &Path, rtype: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| {
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|r| r["record"] == "intent" && r["resource"]["rtype"] == rtype)
    })
}

/// Whether the intent for `rtype` was followed by a `created` record.
fn intent_created(path: &Path, rtype: &str) -> bool {
    let records: Vec<serde_json::Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    records
        .iter()
        .filter(|r| r["record"] == "intent" && r["resource"]["rtype"] == rtype)
        .any(|i| {
            records
                .iter()
                .any(|r| r["record"] == "created" && r["id"] == i["id"])
        })
}

fn run_id_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    first["run_id"].as_str().unwrap().to_string()
}

/// Run `text`, SIGKILL it once the ledger shows the intent for `rtype`
/// while the proxy holds the create call, let the call through, then reap.
/// Returns the run id.
async fn kill_during_restore(
    ws: &Workspace,
    scenario: &str,
    text: &str,
    hold: &'static str,
    rtype: &str,
) -> String {
    let proxy = delay_proxy(hold, Duration::from_secs(2)).await;
    let file = ws.scenario(scenario, &with_endpoint(text, &proxy.endpoint));
    let mut child = KillOnDrop(ws.firedrill().args(["run", "--yes"]).arg(&file).spawn());
    let deadline = Instant::now() + Duration::from_mins(1);
    let ledger = loop {
        // The intent is in the ledger and the create call is in flight.
        if let Some(p) = ledger_path(ws, scenario)
            && ledger_has_intent(&p, rtype)
            && proxy.held.load(Ordering::SeqCst) > 0
        {
            break p;
        }
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "the run ended before its restore intent"
        );
        assert!(
            Instant::now() < deadline,
            "no `{rtype}` intent in the ledger"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.0.kill().unwrap();
    let status = child.0.wait().unwrap();
    assert!(!status.success(), "killed run: {status:?}");
    assert_eq!(
        proxy.forwarded.load(Ordering::SeqCst),
        0,
        "killed while held"
    );
    assert!(
        !intent_created(&ledger, rtype),
        "the ledger recorded the intent before the create call"
    );
    // The create call reaches the emulator after the process died.
    let deadline = Instant::now() + Duration::from_secs(30);
    while proxy.forwarded.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "held request never passed on");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let run_id = run_id_of(&ledger);
    let reap = ws.firedrill().arg("reap");
    let ran = tokio::task::spawn_blocking(move || reap.run())
        .await
        .unwrap();
    ran.code(0);
    assert!(ran.stdout.contains("removed"), "{}", ran.stdout);
    run_id
}

/// Kills the run if the test fails while it is still going.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// [`kill_during_restore`], reaping anyway if it fails part-way, so that a
/// failing test leaves no scratch resources either.
async fn crash_and_reap(
    ws: &Workspace,
    scenario: &str,
    text: &str,
    hold: &'static str,
    rtype: &str,
) -> std::thread::Result<String> {
    use futures::FutureExt;
    let outcome =
        std::panic::AssertUnwindSafe(kill_during_restore(ws, scenario, text, hold, rtype))
            .catch_unwind()
            .await;
    if outcome.is_err() {
        let reap = ws.firedrill().arg("reap");
        let _ = tokio::task::spawn_blocking(move || reap.run()).await;
    }
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_instance_run_killed_during_restore_is_reaped() {
    let ec2 = ec2("us-east-1");
    let source = launch_source(&ec2, "fd-web-crash").await;
    let bystander = create_bystander_volume(&ec2).await;
    let ws = Workspace::new();
    let text = example("ec2-instance.toml", "i-0123456789abcdef0", &source, |t| {
        t.replace("action = \"stop\"", "action = \"none\"")
    });
    let outcome = crash_and_reap(
        &ws,
        "ec2-instance",
        &text,
        "Action=RunInstances",
        "instance",
    )
    .await;
    let source_state = instance_state(&ec2, &source).await;
    let bystander_tags = volume_tags(&ec2, &bystander).await;
    terminate(&ec2, &source).await;
    delete_volume(&ec2, &bystander).await;
    let run_id = outcome.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let left = leftovers("us-east-1", &run_id).await;
    assert_eq!(left, Vec::<String>::new(), "reap left scratch resources");
    assert_eq!(source_state.as_deref(), Some("running"), "source untouched");
    assert_eq!(
        bystander_tags,
        Some(BTreeMap::new()),
        "the unrelated volume still exists, untagged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebs_volume_run_killed_during_restore_is_reaped() {
    let ec2 = ec2("us-east-1");
    let source = create_source_volume(&ec2, "fd-data-crash").await;
    let bystander = create_bystander_volume(&ec2).await;
    let ws = Workspace::new();
    let text = example("ebs-volume.toml", "vol-0123456789abcdef0", &source, |t| {
        t.replace("action = \"delete\"", "action = \"none\"")
    });
    let outcome = crash_and_reap(&ws, "ebs-volume", &text, "Action=CreateVolume", "volume").await;
    let source_tags = volume_tags(&ec2, &source).await;
    let bystander_tags = volume_tags(&ec2, &bystander).await;
    delete_volume(&ec2, &source).await;
    delete_volume(&ec2, &bystander).await;
    let run_id = outcome.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let left = leftovers("us-east-1", &run_id).await;
    assert_eq!(left, Vec::<String>::new(), "reap left scratch resources");
    let source_tags = source_tags.expect("the source volume still exists");
    assert_eq!(source_tags.get("app").map(String::as_str), Some("shop"));
    assert!(!source_tags.contains_key(RUN_ID_TAG), "{source_tags:?}");
    assert_eq!(
        bystander_tags,
        Some(BTreeMap::new()),
        "the unrelated volume still exists, untagged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_instance_stop_with_restart_after_leaves_the_source_running() {
    let ec2 = ec2("us-east-1");
    let source = launch_source(&ec2, "fd-web-restart").await;
    let ws = Workspace::new();
    let text = example("ec2-instance.toml", "i-0123456789abcdef0", &source, |t| {
        t.replace(
            "action = \"stop\"",
            "action = \"stop\"\nrestart_after = true",
        )
    });
    let file = ws.scenario("ec2-restart", &text);
    let ran = run_cli(&ws, &file).await;
    let state = instance_state(&ec2, &source).await;
    terminate(&ec2, &source).await;
    ran.code(0);
    assert_eq!(state.as_deref(), Some("running"), "started again");
    let report = ws.report("ec2-instance");
    let t = &report["targets"][0];
    assert_eq!(
        stage(t, "fault")["detail"],
        format!("stopped instance {source}")
    );
    assert_eq!(
        stage(t, "revert")["detail"],
        format!("started instance {source} again"),
        "{t:#}"
    );
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebs_volume_detach_fault_detaches_only_the_named_volume_and_attaches_it_again() {
    let ec2 = ec2("us-east-1");
    let instance = launch_source(&ec2, "fd-data-host").await;
    let source = create_source_volume(&ec2, "fd-data-attached").await;
    let bystander = create_bystander_volume(&ec2).await;
    ec2.attach_volume()
        .volume_id(&source)
        .instance_id(&instance)
        .device("/dev/sdf")
        .send()
        .await
        .unwrap();
    ec2.attach_volume()
        .volume_id(&bystander)
        .instance_id(&instance)
        .device("/dev/sdg")
        .send()
        .await
        .unwrap();
    let ws = Workspace::new();
    let text = example("ebs-volume.toml", "vol-0123456789abcdef0", &source, |t| {
        t.replace("action = \"delete\"", "action = \"detach\"")
    });
    let file = ws.scenario("ebs-detach", &text);
    let started = Instant::now();
    let ran = run_cli(&ws, &file).await;
    let wall = started.elapsed();
    let states = ec2
        .describe_volumes()
        .volume_ids(&source)
        .volume_ids(&bystander)
        .send()
        .await
        .unwrap();
    let state_of = |id: &str| {
        states
            .volumes()
            .iter()
            .find(|v| v.volume_id() == Some(id))
            .and_then(|v| v.state().map(|s| s.as_str().to_string()))
    };
    let (source_state, bystander_state) = (state_of(&source), state_of(&bystander));
    let attached_at = states
        .volumes()
        .iter()
        .find(|v| v.volume_id() == Some(source.as_str()))
        .and_then(|v| v.attachments().first())
        .map(|a| {
            (
                a.instance_id().map(str::to_string),
                a.device().map(str::to_string),
            )
        });
    terminate(&ec2, &instance).await;
    let _ = ec2
        .detach_volume()
        .volume_id(&bystander)
        .instance_id(&instance)
        .device("/dev/sdg")
        .send()
        .await;
    delete_volume(&ec2, &source).await;
    delete_volume(&ec2, &bystander).await;
    ran.code(0);
    assert_eq!(source_state.as_deref(), Some("in-use"), "attached again");
    assert_eq!(
        attached_at,
        Some((Some(instance.clone()), Some("/dev/sdf".to_string()))),
        "at the same device"
    );
    assert_eq!(bystander_state.as_deref(), Some("in-use"), "left attached");
    let report = ws.report("ebs-volume");
    assert_passed(&report, "ebs-volume", wall);
    let t = &report["targets"][0];
    assert!(
        stage(t, "fault")["detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("detached volume {source}")),
        "{t:#}"
    );
    assert_eq!(
        stage(t, "revert")["detail"],
        format!("attached volume {source} to {instance} at /dev/sdf again")
    );
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
}

#[test]
fn plans_name_every_ec2_call_without_calling_aws() {
    let ws = Workspace::new();
    for (file, calls) in [
        (
            "ec2-instance.toml",
            &[
                "ec2:CreateImage",
                "ec2:StopInstances",
                "ec2:RunInstances",
                "ec2:DeregisterImage",
            ][..],
        ),
        (
            "ebs-volume.toml",
            &[
                "ec2:CreateSnapshot",
                "ec2:DeleteVolume",
                "ec2:CreateVolume",
                "ec2:DeleteSnapshot",
            ][..],
        ),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(file);
        // An unreachable endpoint: the plan must not need it.
        let text = with_endpoint(
            &std::fs::read_to_string(path).unwrap(),
            "http://127.0.0.1:9",
        );
        let scenario = ws.scenario(file.trim_end_matches(".toml"), &text);
        let ran = ws.firedrill().arg("plan").arg(&scenario).run();
        ran.code(0);
        for call in calls {
            assert!(
                ran.stdout.contains(call),
                "{file}: no {call} in\n{}",
                ran.stdout
            );
        }
    }
}
