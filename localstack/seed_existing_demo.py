"""Seed LocalStack with an EBS volume and three "nightly" snapshots of it,
for the demo of a drill of existing backups. Idempotent: the volume is found
by its Name tag and snapshots are only added while fewer than three exist.
Prints the volume id. Run through localstack/seed-existing-demo.
"""

import os
import time

import boto3

ENDPOINT = os.environ.get("FIREDRILL_EC2_ENDPOINT", "http://127.0.0.1:4566")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
NAME = "firedrill-demo-data"


def main():
    ec2 = boto3.client(
        "ec2",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    found = ec2.describe_volumes(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Volumes"]
    if found:
        volume = found[0]["VolumeId"]
    else:
        volume = ec2.create_volume(
            AvailabilityZone=f"{REGION}a",
            Size=1,
            VolumeType="gp3",
            TagSpecifications=[
                {"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": NAME}]}
            ],
        )["VolumeId"]
    snaps = ec2.describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [volume]}]
    )["Snapshots"]
    for n in range(len(snaps), 3):
        if n:
            time.sleep(1.1)
        ec2.create_snapshot(VolumeId=volume, Description=f"nightly {n}")
    print(volume)


if __name__ == "__main__":
    main()
