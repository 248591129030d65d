//! The `rds-instance` stages end to end on virtual time, against a small
//! fake RDS (an HTTP client answering the query protocol) whose snapshot and
//! restore take known virtual durations: the stage outputs must carry the
//! poll's observed moment and an error bound containing the true time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_async::test_util::{ManualTimeSource, instant_time_and_sleep};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use tokio_util::sync::CancellationToken;

use crate::aws::Clients;
use crate::ledger::Ledger;
use crate::targets::{StageContext, Target};
use firedrill_core::CheckStatus;
use firedrill_core::Environment;
use firedrill_core::timing::Clock;

/// Virtual time a snapshot takes to become available.
const SNAPSHOT_TAKES: Duration = Duration::from_secs(200);
/// Virtual time a restore spends `creating`, then up to `available`.
const RESTORE_CREATING: Duration = Duration::from_secs(95);
const RESTORE_TAKES: Duration = Duration::from_secs(440);

/// A fake RDS: one source instance, snapshots and restores that follow the
/// virtual clock.
#[derive(Clone, Debug)]
struct FakeRds {
    time: ManualTimeSource,
    /// Creation time of each snapshot and restored instance.
    created: Arc<Mutex<BTreeMap<String, SystemTime>>>,
}

fn param<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
}

fn instance_xml(id: &str, status: &str) -> String {
    format!(
        "<DBInstance><DBInstanceIdentifier>{id}</DBInstanceIdentifier>\
<DBInstanceArn>arn:aws:rds:us-east-1:1:db:{id}</DBInstanceArn>\
<DBInstanceStatus>{status}</DBInstanceStatus><Engine>postgres</Engine>\
<EngineVersion>16.3</EngineVersion><DBInstanceClass>db.t4g.micro</DBInstanceClass>\
<StorageType>gp3</StorageType><StorageEncrypted>true</StorageEncrypted><MultiAZ>false</MultiAZ>\
<DBParameterGroups><DBParameterGroup><DBParameterGroupName>orders-pg16</DBParameterGroupName>\
</DBParameterGroup></DBParameterGroups>\
<TagList><Tag><Key>team</Key><Value>data</Value></Tag></TagList></DBInstance>"
    )
}

fn snapshot_xml(id: &str, status: &str) -> String {
    format!(
        "<DBSnapshot><DBSnapshotIdentifier>{id}</DBSnapshotIdentifier>\
<DBSnapshotArn>arn:aws:rds:us-east-1:1:snapshot:{id}</DBSnapshotArn>\
<DBInstanceIdentifier>orders-db</DBInstanceIdentifier><Status>{status}</Status>\
<SnapshotType>manual</SnapshotType></DBSnapshot>"
    )
}

fn response(action: &str, inner: &str) -> String {
    format!(
        "<{action}Response xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\
<{action}Result>{inner}</{action}Result>\
<ResponseMetadata><RequestId>req-{action}</RequestId></ResponseMetadata></{action}Response>"
    )
}

impl FakeRds {
    fn age(&self, id: &str) -> Option<Duration> {
        let created = *self.created.lock().unwrap().get(id)?;
        Some(self.time.now().duration_since(created).unwrap_or_default())
    }

    fn answer(&self, body: &str) -> String {
        let action = param(body, "Action").unwrap_or_default();
        let created = |id: &str| {
            self.created
                .lock()
                .unwrap()
                .insert(id.to_string(), self.time.now());
        };
        match action {
            "DescribeDBInstances" => {
                let id = param(body, "DBInstanceIdentifier").unwrap_or_default();
                let status = if id == "orders-db" {
                    "available"
                } else {
                    match self.age(id) {
                        Some(a) if a < RESTORE_CREATING => "creating",
                        Some(a) if a < RESTORE_TAKES => "backing-up",
                        Some(_) => "available",
                        None => return response(action, "<DBInstances/>"),
                    }
                };
                response(
                    action,
                    &format!("<DBInstances>{}</DBInstances>", instance_xml(id, status)),
                )
            }
            "CreateDBSnapshot" => {
                let id = param(body, "DBSnapshotIdentifier").unwrap_or_default();
                created(id);
                response(action, &snapshot_xml(id, "creating"))
            }
            "DescribeDBSnapshots" => {
                let id = param(body, "DBSnapshotIdentifier").unwrap_or_default();
                let status = if self.age(id).is_some_and(|a| a >= SNAPSHOT_TAKES) {
                    "available"
                } else {
                    "creating"
                };
                response(
                    action,
                    &format!("<DBSnapshots>{}</DBSnapshots>", snapshot_xml(id, status)),
                )
            }
            "RestoreDBInstanceFromDBSnapshot" => {
                let id = param(body, "DBInstanceIdentifier").unwrap_or_default();
                created(id);
                response(action, &instance_xml(id, "creating"))
            }
            other => panic!("the fake RDS does not know {other}"),
        }
    }
}

impl HttpConnector for FakeRds {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = std::str::from_utf8(request.body().bytes().unwrap_or_default())
            .unwrap_or_default()
            .to_string();
        let xml = self.answer(&body);
        HttpConnectorFuture::ready(Ok(HttpResponse::new(
            200.try_into().unwrap(),
            SdkBody::from(xml),
        )))
    }
}

impl HttpClient for FakeRds {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

fn target() -> Box<dyn Target> {
    let text = "name = \"t\"\n[environment]\nregion = \"us-east-1\"\n[objectives]\nrto = \"30m\"\nrpo = \"15m\"\n[[targets]]\nname = \"db\"\nkind = \"rds-instance\"\ninstance = \"orders-db\"\n";
    let scenario = match crate::scenario::parse(std::path::Path::new("t.toml"), text) {
        Ok(s) => s,
        Err(e) => panic!("{}", e.render()),
    };
    scenario.targets.into_iter().next().unwrap().target
}

#[tokio::test]
async fn stage_outputs_carry_observed_moment_and_a_bound_containing_the_truth() {
    let (time, sleep) = instant_time_and_sleep(SystemTime::UNIX_EPOCH);
    let shared_time = SharedTimeSource::new(time.clone());
    let shared_sleep = SharedAsyncSleep::new(sleep);
    let clock = Clock::virtual_time(shared_time.clone(), shared_sleep.clone());
    let fake = FakeRds {
        time: time.clone(),
        created: Arc::default(),
    };
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::for_tests()))
        .http_client(SharedHttpClient::new(fake))
        .time_source(shared_time)
        .sleep_impl(shared_sleep)
        .stalled_stream_protection(aws_sdk_rds::config::StalledStreamProtectionConfig::disabled())
        .build();
    let env = Environment {
        region: "us-east-1".into(),
        ..Environment::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext {
        run_id: "r1".into(),
        run_dir: dir.path().to_path_buf(),
        target_name: "db".into(),
        target_index: 0,
        clients: Clients::from_sdk_config(&env, sdk),
        ledger: Ledger::create(dir.path(), "r1", "t", &env).unwrap(),
        clock: clock.clone(),
        stage_timeout: Duration::from_hours(1),
        expires_at: time::OffsetDateTime::UNIX_EPOCH + Duration::from_hours(6),
        cancel: CancellationToken::new(),
        recovery: firedrill_core::recovery::ChoiceInputs::default(),
    };
    let mut t = target();
    t.preflight(&cx).await.unwrap();

    let start = clock.now();
    let backup = t.backup(&cx).await.unwrap();
    let observed = backup
        .observed
        .expect("the backup records when it saw `available`");
    let measured = observed.since(start);
    assert!(measured >= SNAPSHOT_TAKES, "{measured:?}");
    assert!(measured.saturating_sub(backup.error_bound) <= SNAPSHOT_TAKES);
    assert!(
        backup.error_bound <= Duration::from_secs(2),
        "{:?}",
        backup.error_bound
    );
    assert!(!backup.emulated);

    let start = clock.now();
    let restore = t.restore(&cx).await.unwrap();
    let observed = restore
        .observed
        .expect("the restore records when it saw `available`");
    let measured = observed.since(start);
    assert!(measured >= RESTORE_TAKES, "{measured:?}");
    assert!(
        measured.saturating_sub(restore.error_bound) <= RESTORE_TAKES,
        "{measured:?} ± {:?}",
        restore.error_bound
    );
    assert!(
        restore.error_bound <= Duration::from_secs(1).max(measured / 100),
        "{:?}",
        restore.error_bound
    );
    assert_eq!(
        restore.facts["states"].matches("→").count(),
        1,
        "{}",
        restore.facts["states"]
    );

    // Not an emulator: matching fields are plain passes.
    let v = t.validate(&cx).await.unwrap();
    let passed: Vec<&str> = v
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Passed)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        passed,
        [
            "status",
            "engine",
            "engine version",
            "instance class",
            "storage type",
            "encrypted",
            "multi-AZ",
            "parameter group",
            "tags"
        ]
    );
    let ledger = std::fs::read_to_string(cx.ledger.path()).unwrap();
    assert!(
        ledger.contains("r1-0-snap") && ledger.contains("r1-0-restore"),
        "{ledger}"
    );
}
