"""Seed the demo bucket in LocalStack with deterministic order documents.

Idempotent: the bucket is created when missing, and each object is written
only when it is missing or its content differs (compared by MD5/ETag), so a
second run changes nothing. Run through localstack/seed-demo.
"""

import hashlib
import json
import os
import random
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

BUCKET = os.environ.get("FIREDRILL_DEMO_BUCKET", "firedrill-demo-orders")
ENDPOINT = os.environ.get("FIREDRILL_S3_ENDPOINT", "http://127.0.0.1:4566")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
COUNT = 20

PRODUCTS = [
    ("SKU-1001", "Stainless steel water bottle, 750 ml", 1899),
    ("SKU-1002", "Merino wool hiking socks, pair", 1450),
    ("SKU-1003", "LED head torch, 300 lumen, rechargeable", 3299),
    ("SKU-1004", "Compact first aid kit, 42 pieces", 2475),
    ("SKU-1005", "Insulated camping mug with lid", 1199),
    ("SKU-1006", "Ripstop nylon dry bag, 20 l", 2150),
    ("SKU-1007", "Trekking pole pair, carbon", 8999),
    ("SKU-1008", "Emergency thermal blanket, 4-pack", 799),
    ("SKU-1009", "Water purification tablets, 50", 1325),
    ("SKU-1010", "Paracord bracelet with compass", 950),
]
CITIES = ["Lisbon", "Oslo", "Tallinn", "Valencia", "Gdansk", "Lyon", "Utrecht", "Graz"]


def order_document(n):
    """Order n (1-based) as JSON bytes; same n always gives the same bytes."""
    rng = random.Random(f"firedrill-demo-order-{n}")
    lines = []
    for line_no in range(1, rng.randint(6, 12) + 1):
        sku, description, unit_cents = rng.choice(PRODUCTS)
        qty = rng.randint(1, 5)
        lines.append(
            {
                "line": line_no,
                "sku": sku,
                "description": description,
                "quantity": qty,
                "unit_price_cents": unit_cents,
                "total_cents": qty * unit_cents,
            }
        )
    day = 1 + (n - 1) % 28
    doc = {
        "order_id": f"order-{n:04d}",
        "customer_id": f"cust-{rng.randint(1, 500):05d}",
        "created_at": f"2026-11-{day:02d}T{rng.randint(8, 20):02d}:{rng.randint(0, 59):02d}:00Z",
        "status": rng.choice(["paid", "packed", "shipped", "delivered"]),
        "currency": "EUR",
        "shipping_address": {
            "city": rng.choice(CITIES),
            "postal_code": f"{rng.randint(1000, 99999):05d}",
            "country": "EU",
        },
        "lines": lines,
        "total_cents": sum(line["total_cents"] for line in lines),
        "notes": "Demo data for firedrill restore drills. " * 8,
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def main():
    s3 = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
    try:
        s3.head_bucket(Bucket=BUCKET)
        bucket_state = "exists"
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
        s3.create_bucket(Bucket=BUCKET)
        bucket_state = "created"

    written = unchanged = total_bytes = 0
    for n in range(1, COUNT + 1):
        key = f"orders/2026/11/order-{n:04d}.json"
        body = order_document(n)
        total_bytes += len(body)
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        try:
            if s3.head_object(Bucket=BUCKET, Key=key).get("ETag") == etag:
                unchanged += 1
                continue
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="application/json")
        written += 1

    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="orders/2026/11/").get("KeyCount", 0)
    print(
        f"seed-demo: bucket {BUCKET} {bucket_state} at {ENDPOINT}; "
        f"{written} objects written, {unchanged} unchanged, "
        f"{listed} under orders/2026/11/ ({total_bytes} bytes seeded)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
