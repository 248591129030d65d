//! Blast-radius guards: a fault that changes or deletes a resource firedrill
//! did not create needs three opt-ins against a real (non-loopback) endpoint:
//! the opt-in tag on the resource, the account in the scenario's allow list,
//! and `--allow-destructive`. Checked before anything is created.

use std::collections::BTreeMap;

use crate::aws::Clients;
use crate::scenario::Scenario;
use crate::targets::TAG_ALLOW_FAULTS;

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

/// The guard that needs no API call: destructive faults on real endpoints
/// need `--allow-destructive`. Returns one refusal per target.
pub fn without_network(scenario: &Scenario, allow_destructive: bool) -> Vec<String> {
    if allow_destructive {
        return Vec::new();
    }
    scenario
        .targets
        .iter()
        .filter_map(|spec| {
            let fault = spec.target.fault()?;
            (fault.destructive && !scenario.environment.is_emulated(fault.service)).then(|| {
                format!(
                    "target `{}`: refusing fault `{}` ({}) on a resource firedrill did not create, at a non-emulator endpoint; missing: `--allow-destructive` on the command line (the resource also needs the tag `{TAG_ALLOW_FAULTS}=true` and the account must be in `[environment] allowed_accounts`)",
                    spec.name, fault.action, fault.description
                )
            })
        })
        .collect()
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
        if clients.is_emulated(fault.service) {
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
        let acct = if let Some(a) = &account {
            a.clone()
        } else {
            let a = clients.account_id().await.map_err(|e| e.to_string());
            account = Some(a.clone());
            a
        };
        match acct {
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
