//! Blast-radius guards: a fault that changes or deletes a resource firedrill
//! did not create needs three opt-ins against a real (non-loopback) endpoint:
//! the opt-in tag on the resource, the account in the scenario's allow list,
//! and `--allow-destructive`. Checked before anything is created.

use std::collections::BTreeMap;

use crate::aws::Clients;
use crate::scenario::Scenario;
use firedrill_core::resource::TAG_ALLOW_FAULTS;

/// The guards' decision.
#[derive(Clone, Debug, Default)]
pub struct GuardVerdict {
    /// Why the drill may not run, one line per target; empty when allowed.
    pub refusals: Vec<String>,
    /// Exemptions and other notes for the report.
    pub notes: Vec<String>,
    /// The account id, when it had to be looked up.
    pub account_id: Option<String>,
}

/// The guards that need no API call: a fault that loses data for good runs
/// against an emulator only, whatever the opt-ins; destructive faults on
/// real endpoints need `--allow-destructive`. Returns one refusal per target.
pub fn without_network(scenario: &Scenario, allow_destructive: bool) -> Vec<String> {
    let mut refusals: Vec<String> = scenario
        .targets
        .iter()
        .filter_map(|spec| {
            let fault = spec.target.fault()?;
            (fault.loses_data && !fault.is_local(&scenario.environment)).then(|| {
                format!(
                    "target `{}`: refusing fault `{}` ({}): it destroys data no copy holds (`accept_data_loss = true`), which firedrill does only against an emulator on loopback",
                    spec.name, fault.action, fault.description
                )
            })
        })
        .collect();
    if allow_destructive {
        return refusals;
    }
    refusals.extend(scenario
        .targets
        .iter()
        .filter_map(|spec| {
            let fault = spec.target.fault()?;
            (fault.destructive && !fault.is_local(&scenario.environment)).then(|| {
                format!(
                    "target `{}`: refusing fault `{}` ({}) on a resource firedrill did not create, at a non-emulator endpoint; missing: `--allow-destructive` on the command line (the resource also needs the tag `{TAG_ALLOW_FAULTS}=true` and the account must be in `[environment] allowed_accounts`)",
                    spec.name, fault.action, fault.description
                )
            })
        }),
    );
    refusals
}

/// Check every target's fault against the guards. `tags` holds each target's
/// resource tags from preflight, in scenario order.
pub async fn check(
    scenario: &Scenario,
    clients: &Clients,
    tags: &[BTreeMap<String, String>],
    allow_destructive: bool,
) -> GuardVerdict {
    let mut verdict = GuardVerdict::default();
    let mut account: Option<Result<String, String>> = None;
    for (i, spec) in scenario.targets.iter().enumerate() {
        let Some(fault) = spec.target.fault() else {
            continue;
        };
        if !fault.destructive {
            continue;
        }
        if fault.is_local(clients.environment()) {
            verdict.notes.push(format!(
                "target `{}`: fault `{}` runs against an emulator on loopback; the blast-radius guards do not apply",
                spec.name, fault.action
            ));
            continue;
        }
        let mut missing = Vec::new();
        let tagged = tags
            .get(i)
            .and_then(|t| t.get(TAG_ALLOW_FAULTS))
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if !tagged {
            missing.push(format!(
                "the tag `{TAG_ALLOW_FAULTS}=true` on {}",
                spec.target.resource()
            ));
        }
        // A resource outside AWS (a self-managed database) has no account.
        let acct = if fault.endpoint.is_some() {
            Ok(String::new())
        } else if let Some(a) = &account {
            a.clone()
        } else {
            let a = clients.account_id().await.map_err(|e| e.to_string());
            account = Some(a.clone());
            a
        };
        match acct {
            Ok(id) if id.is_empty() => {}
            Ok(id) => {
                verdict.account_id = Some(id.clone());
                if !scenario.environment.allowed_accounts.contains(&id) {
                    missing.push(format!("account {id} in `[environment] allowed_accounts`"));
                }
            }
            Err(e) => missing.push(format!(
                "a known account id (STS GetCallerIdentity failed: {e})"
            )),
        }
        if !allow_destructive {
            missing.push("`--allow-destructive` on the command line".to_string());
        }
        if !missing.is_empty() {
            verdict.refusals.push(format!(
                "target `{}`: refusing fault `{}` ({}) on a resource firedrill did not create; missing: {}",
                spec.name,
                fault.action,
                fault.description,
                missing.join("; ")
            ));
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
    use aws_smithy_mocks::{MockResponseInterceptor, Rule, create_mock_http_client, mock};

    use super::*;

    const ACCOUNT: &str = "123456789012";

    fn scenario(environment: &str, targets: usize) -> Scenario {
        let mut text = format!(
            "name = \"g\"\n[environment]\nregion = \"us-east-1\"\nallowed_accounts = [\"{ACCOUNT}\"]\n{environment}\n[objectives]\nrto = \"1m\"\nrpo = \"1m\"\n"
        );
        for i in 0..targets {
            text.push_str(&format!(
                "[[targets]]\nname = \"t{i}\"\nkind = \"s3-bucket\"\nbucket = \"bucket-{i}\"\n[targets.fault]\naction = \"delete-all\"\n"
            ));
        }
        crate::scenario::validate::parse(Path::new("g.toml"), &text).unwrap()
    }

    fn identity(account: &'static str) -> Rule {
        mock!(aws_sdk_sts::Client::get_caller_identity).then_output(move || {
            GetCallerIdentityOutput::builder()
                .account(account)
                .arn(format!("arn:aws:iam::{account}:user/drill"))
                .user_id("AIDAEXAMPLE")
                .build()
        })
    }

    fn clients(scenario: &Scenario, rule: &Rule) -> Clients {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .credentials_provider(creds.clone())
                .http_client(create_mock_http_client())
                .interceptor(MockResponseInterceptor::new().with_rule(rule))
                .build(),
        );
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(creds))
            .http_client(create_mock_http_client())
            .build();
        Clients::with_sts(&scenario.environment, sdk, sts)
    }

    fn tagged(on: bool) -> BTreeMap<String, String> {
        let mut t = BTreeMap::new();
        t.insert("owner".to_string(), "sre".to_string());
        if on {
            t.insert(TAG_ALLOW_FAULTS.to_string(), "true".to_string());
        }
        t
    }

    #[tokio::test]
    async fn all_three_opt_ins_allow_the_fault_and_sts_is_asked_once() {
        let s = scenario("", 2);
        let rule = identity(ACCOUNT);
        let c = clients(&s, &rule);
        let v = check(&s, &c, &[tagged(true), tagged(true)], true).await;
        assert!(v.refusals.is_empty(), "{:?}", v.refusals);
        assert_eq!(v.account_id.as_deref(), Some(ACCOUNT));
        assert_eq!(
            rule.num_calls(),
            1,
            "the account id is looked up once per run"
        );
        assert!(v.notes.is_empty(), "{:?}", v.notes);
    }

    #[tokio::test]
    async fn every_missing_opt_in_is_named() {
        let s = scenario("", 1);
        let rule = identity("999999999999");
        let c = clients(&s, &rule);
        let v = check(&s, &c, &[tagged(false)], false).await;
        assert_eq!(v.refusals.len(), 1, "{:?}", v.refusals);
        let r = &v.refusals[0];
        assert!(r.contains("target `t0`"), "{r}");
        assert!(r.contains("delete-all"), "{r}");
        assert!(
            r.contains("the tag `firedrill:allow-faults=true` on s3://bucket-0"),
            "{r}"
        );
        assert!(
            r.contains("account 999999999999 in `[environment] allowed_accounts`"),
            "{r}"
        );
        assert!(r.contains("`--allow-destructive`"), "{r}");
    }

    #[tokio::test]
    async fn only_the_missing_items_are_named() {
        // Tag missing; account allowed; flag given.
        let s = scenario("", 1);
        let rule = identity(ACCOUNT);
        let v = check(&s, &clients(&s, &rule), &[tagged(false)], true).await;
        let r = &v.refusals[0];
        assert!(r.contains("firedrill:allow-faults=true"), "{r}");
        assert!(!r.contains("allowed_accounts"), "{r}");
        assert!(!r.contains("--allow-destructive"), "{r}");

        // Account not allowed; tag present; flag given.
        let rule = identity("210987654321");
        let v = check(&s, &clients(&s, &rule), &[tagged(true)], true).await;
        let r = &v.refusals[0];
        assert!(r.contains("account 210987654321"), "{r}");
        assert!(!r.contains("firedrill:allow-faults"), "{r}");
        assert!(!r.contains("--allow-destructive"), "{r}");

        // A tag set to anything but true does not count.
        let mut maybe = tagged(false);
        maybe.insert(TAG_ALLOW_FAULTS.to_string(), "yes".to_string());
        let rule = identity(ACCOUNT);
        let v = check(&s, &clients(&s, &rule), &[maybe], true).await;
        assert!(v.refusals[0].contains("firedrill:allow-faults=true"));
    }

    #[tokio::test]
    async fn unknown_account_refuses_and_says_why() {
        let s = scenario("", 1);
        let rule = mock!(aws_sdk_sts::Client::get_caller_identity)
            .sequence()
            .http_status(
                403,
                Some("<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>r-1</RequestId></ErrorResponse>".into()),
            )
            .build();
        let v = check(&s, &clients(&s, &rule), &[tagged(true)], true).await;
        assert_eq!(v.account_id, None);
        let r = &v.refusals[0];
        assert!(r.contains("STS GetCallerIdentity failed"), "{r}");
        assert!(r.contains("InvalidClientTokenId"), "{r}");
    }

    #[tokio::test]
    async fn loopback_emulators_are_exempt_and_the_report_says_so() {
        let s = scenario("endpoint_url = \"http://127.0.0.1:4566\"", 1);
        let rule = identity("999999999999");
        let v = check(&s, &clients(&s, &rule), &[tagged(false)], false).await;
        assert!(v.refusals.is_empty(), "{:?}", v.refusals);
        assert_eq!(rule.num_calls(), 0, "no account lookup for an emulator");
        assert_eq!(v.notes.len(), 1);
        assert!(
            v.notes[0].contains("emulator on loopback")
                && v.notes[0].contains("guards do not apply"),
            "{:?}",
            v.notes
        );
        assert!(without_network(&s, false).is_empty());
    }

    #[test]
    fn the_network_free_guard_names_all_three_opt_ins() {
        let s = scenario("", 2);
        let r = without_network(&s, false);
        assert_eq!(r.len(), 2, "one refusal per target: {r:?}");
        for line in &r {
            assert!(line.contains("`--allow-destructive`"), "{line}");
            assert!(line.contains("firedrill:allow-faults=true"), "{line}");
            assert!(line.contains("allowed_accounts"), "{line}");
        }
        assert!(without_network(&s, true).is_empty());
    }

    fn postgres_scenario(host: &str) -> Scenario {
        let text = format!(
            "name = \"g\"\n[environment]\nregion = \"us-east-1\"\nendpoint_url = \"http://127.0.0.1:4566\"\n[objectives]\nrto = \"1m\"\nrpo = \"1m\"\n[[targets]]\nname = \"db\"\nkind = \"postgres\"\nhost = \"{host}\"\nport = 5432\nuser = \"app\"\ndatabase = \"orders\"\npassword_env = \"PGPASSWORD\"\n[targets.backup]\nbucket = \"dumps\"\n[targets.fault]\naction = \"truncate\"\ntable = \"orders\"\n"
        );
        crate::scenario::parse(Path::new("g.toml"), &text).unwrap()
    }

    #[test]
    fn a_remote_database_is_guarded_even_when_s3_is_emulated() {
        // The dump goes to LocalStack, but the fault goes to a real server.
        let refusals = without_network(&postgres_scenario("db.internal.example"), false);
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert!(
            refusals[0].contains("--allow-destructive"),
            "{}",
            refusals[0]
        );
        assert!(without_network(&postgres_scenario("127.0.0.1"), false).is_empty());
    }
}
