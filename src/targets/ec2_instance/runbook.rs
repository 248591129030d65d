//! The bad-day recovery steps of an `ec2-instance` target: the newest
//! available AMI the scenario's filters find, launched with the restore's
//! type, subnet, security groups and zone.

use firedrill_core::Stage;
use firedrill_core::runbook::{RunbookStep, Tool, shell_quote};

use super::InstanceTarget;

pub(super) fn steps(t: &InstanceTarget) -> Vec<RunbookStep> {
    let r = &t.restore;
    let region = r
        .dr_region
        .as_deref()
        .map(|x| format!(" --region {}", shell_quote(x)))
        .unwrap_or_default();
    let instance = shell_quote(&t.instance_id);
    let mut filters = vec!["Name=state,Values=available".to_string()];
    if let Some(name) = &t.images.name {
        filters.push(shell_quote(&format!("Name=name,Values={name}")));
    }
    for (k, v) in &t.images.tags {
        filters.push(shell_quote(&format!("Name=tag:{k},Values={v}")));
    }
    let mut steps = vec![if filters.len() > 1 {
        RunbookStep::new(
            format!("find the newest available image of {}", t.instance_id),
            Tool::Aws,
            format!(
                "IMAGE_ID=$(aws ec2 describe-images{region} --owners self \\\n  --filters {} \\\n  --query 'sort_by(Images,&CreationDate)[-1].ImageId' --output text)",
                filters.join(" ")
            ),
        )
    } else {
        RunbookStep::new(
            format!("name the newest image your backup job made of {}", t.instance_id),
            Tool::Shell,
            "IMAGE_ID=<ami-… of the newest image>",
        )
    }
    .setting("IMAGE_ID")];
    let kind = if let Some(k) = &r.instance_type {
        shell_quote(k)
    } else {
        steps.push(
            RunbookStep::new(
                "the lost instance's type (set it by hand if the instance is gone)",
                Tool::Aws,
                format!(
                    "INSTANCE_TYPE=$(aws ec2 describe-instances{region} --instance-ids {instance} \\\n  --query 'Reservations[0].Instances[0].InstanceType' --output text)"
                ),
            )
            .setting("INSTANCE_TYPE"),
        );
        "\"$INSTANCE_TYPE\"".to_string()
    };
    let mut launch = format!(
        "INSTANCE_ID=$(aws ec2 run-instances{region} --image-id \"$IMAGE_ID\" --instance-type {kind} --count 1"
    );
    if let Some(subnet) = &r.subnet_id {
        launch.push_str(&format!(" \\\n  --subnet-id {}", shell_quote(subnet)));
    }
    if let Some(groups) = &r.security_group_ids {
        let ids: Vec<String> = groups.iter().map(|g| shell_quote(g)).collect();
        launch.push_str(&format!(" \\\n  --security-group-ids {}", ids.join(" ")));
    }
    if let Some(az) = &r.availability_zone {
        launch.push_str(&format!(
            " \\\n  --placement {}",
            shell_quote(&format!("AvailabilityZone={az}"))
        ));
    }
    launch.push_str(&format!(
        " \\\n  --query 'Instances[0].InstanceId' --output text)\naws ec2 wait instance-running{region} --instance-ids \"$INSTANCE_ID\""
    ));
    steps.push(
        RunbookStep::new(
            "launch an instance from the image and wait until it runs",
            Tool::Aws,
            launch,
        )
        .timed(Stage::Restore)
        .setting("INSTANCE_ID"),
    );
    steps.push(RunbookStep::new(
        "its private address, for the load balancer or DNS",
        Tool::Aws,
        format!(
            "aws ec2 describe-instances{region} --instance-ids \"$INSTANCE_ID\" \\\n  --query 'Reservations[0].Instances[0].PrivateIpAddress' --output text"
        ),
    ));
    steps
}
