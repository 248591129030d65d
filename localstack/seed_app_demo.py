"""Seed the application demo's static site: the bucket firedrill-demo-site
with an index page, a stylesheet and a few product pages.

Idempotent: the bucket is created when missing and each object written only
when its content differs. Run through localstack/seed-app-demo.
"""

import hashlib
import os

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

BUCKET = os.environ.get("FIREDRILL_SITE_BUCKET", "firedrill-demo-site")
ENDPOINT = os.environ.get("FIREDRILL_S3_ENDPOINT", "http://127.0.0.1:4566")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")

INDEX = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Outfitters Orders</title>
<link rel="stylesheet" href="site.css"></head>
<body>
<h1>Outfitters Orders</h1>
<p>Order history and totals are served by the orders API on port 18080.</p>
<ul>
""" + "".join(f'<li><a href="products/sku-{n}.html">SKU-{n}</a></li>\n' for n in range(1001, 1011)) + """</ul>
</body>
</html>
"""

CSS = "body { font-family: sans-serif; margin: 2rem; }\nh1 { color: #b33; }\n"


def objects():
    yield "index.html", INDEX, "text/html"
    yield "site.css", CSS, "text/css"
    for n in range(1001, 1011):
        page = f"<!doctype html><html><body><h1>SKU-{n}</h1><p>Product {n}</p></body></html>\n"
        yield f"products/sku-{n}.html", page, "text/html"


def main():
    s3 = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        config=Config(s3={"addressing_style": "path"}),
    )
    try:
        s3.head_bucket(Bucket=BUCKET)
    except ClientError:
        s3.create_bucket(Bucket=BUCKET)
    written = 0
    for key, text, content_type in objects():
        body = text.encode()
        try:
            etag = s3.head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"')
        except ClientError:
            etag = None
        if etag != hashlib.md5(body).hexdigest():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=content_type)
            written += 1
    print(f"seeded s3://{BUCKET}: {written} object(s) written, {12 - written} unchanged")


if __name__ == "__main__":
    main()
