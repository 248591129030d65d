//! The bad-day recovery steps of an `ebs-volume` target.

use firedrill_core::Stage;
use firedrill_core::runbook::{RunbookStep, Tool, shell_quote};

use super::VolumeTarget;

pub(super) fn steps(t: &VolumeTarget) -> Vec<RunbookStep> {
    let volume = shell_quote(&t.volume_id);
    let region = t
        .restore
        .dr_region
        .as_deref()
        .map(|r| format!(" --region {}", shell_quote(r)))
        .unwrap_or_default();
    let mut steps = vec![
        RunbookStep::new(
            format!("find the newest completed snapshot of {}", t.volume_id),
            Tool::Aws,
            format!(
                "SNAPSHOT_ID=$(aws ec2 describe-snapshots{region} --owner-ids self \\\n  --filters Name=volume-id,Values={volume} Name=status,Values=completed \\\n  --query 'sort_by(Snapshots,&StartTime)[-1].SnapshotId' --output text)"
            ),
        )
        .setting("SNAPSHOT_ID"),
    ];
    let zone = if let Some(az) = &t.restore.availability_zone {
        shell_quote(az)
    } else {
        steps.push(
                RunbookStep::new(
                    "the availability zone of the lost volume (set it by hand if the volume is gone)",
                    Tool::Aws,
                    format!(
                        "AVAILABILITY_ZONE=$(aws ec2 describe-volumes{region} --volume-ids {volume} \\\n  --query 'Volumes[0].AvailabilityZone' --output text)"
                    ),
                )
                .setting("AVAILABILITY_ZONE"),
            );
        "\"$AVAILABILITY_ZONE\"".to_string()
    };
    let mut create = format!(
        "VOLUME_ID=$(aws ec2 create-volume{region} --snapshot-id \"$SNAPSHOT_ID\" --availability-zone {zone}"
    );
    if let Some(kind) = &t.restore.volume_type {
        create.push_str(&format!(" --volume-type {}", shell_quote(kind)));
    }
    if let Some(iops) = t.restore.iops {
        create.push_str(&format!(" --iops {iops}"));
    }
    create.push_str(" \\\n  --query VolumeId --output text)\n");
    create.push_str(&format!(
        "aws ec2 wait volume-available{region} --volume-ids \"$VOLUME_ID\""
    ));
    steps.push(
        RunbookStep::new(
            "create a volume from the snapshot and wait until it is available",
            Tool::Aws,
            create,
        )
        .timed(Stage::Restore)
        .setting("VOLUME_ID"),
    );
    steps.push(RunbookStep::new(
        "attach it where the lost volume was attached",
        Tool::Aws,
        format!(
            "aws ec2 attach-volume{region} --volume-id \"$VOLUME_ID\" --instance-id \"$INSTANCE_ID\" --device \"$DEVICE\""
        ),
    ));
    steps
}
