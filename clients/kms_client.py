#!/usr/bin/env python3
"""boto3 as cmd/kmsconform/clients_test.go drives it, one KMS call per line.

Configuration is boto3's own, from the environment, as an application would
have it: AWS_ENDPOINT_URL_KMS, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_MAX_ATTEMPTS.

stdin, one JSON object a line:  {"op": "Encrypt", "input": {...}}
stdout, one JSON object a line: {"output": {...}}
                            or {"error": {"code", "class", "status", "message"}}
The first line out is {"ready": {"sdk", "region"}}; every answer also carries
"sentTo", the URL botocore sent the request to.

Blob members (Plaintext, CiphertextBlob) are base64 both ways; datetimes are
ISO 8601. "code" is e.response['Error']['Code'], the code a Python
application tests; "class" is the exception class boto3 raised (the modeled
one, client.exceptions.<Code>, or ClientError for a code the model does not
know).
"""
import base64
import datetime
import json
import sys

import boto3
import botocore
from botocore.exceptions import ClientError
from botocore import xform_name

BLOB_MEMBERS = {"Plaintext", "CiphertextBlob"}


def to_wire(params):
    return {k: base64.b64decode(v) if k in BLOB_MEMBERS else v for k, v in (params or {}).items()}


def from_sdk(v):
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    if isinstance(v, list):
        return [from_sdk(x) for x in v]
    if isinstance(v, dict):
        return {k: from_sdk(x) for k, x in v.items() if k != "ResponseMetadata"}
    return v


def write(o):
    sys.stdout.write(json.dumps(o) + "\n")
    sys.stdout.flush()


def main():
    client = boto3.client("kms")
    # Where botocore sent the last request: the test checks that boto3's own
    # endpoint resolution (AWS_ENDPOINT_URL_KMS) reached the emulator.
    sent = {"to": ""}

    def record(request, **_):
        sent["to"] = request.url

    client.meta.events.register("before-send.kms", record)
    write({"ready": {"sdk": "boto3 %s botocore %s" % (boto3.__version__, botocore.__version__),
                     "region": client.meta.region_name}})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            method = getattr(client, xform_name(req["op"]))
        except (ValueError, KeyError, AttributeError) as e:
            write({"error": {"code": "BadRequestLine", "class": "", "message": str(e)}})
            continue
        sent["to"] = ""
        try:
            write({"output": from_sdk(method(**to_wire(req.get("input")))), "sentTo": sent["to"]})
        except ClientError as e:
            write({"error": {
                "code": e.response["Error"]["Code"],
                "class": type(e).__name__,
                "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0),
                "message": e.response["Error"].get("Message", ""),
            }, "sentTo": sent["to"]})
        except botocore.exceptions.BotoCoreError as e:
            # Parameter validation and transport errors: no service answer.
            write({"error": {"code": "", "class": type(e).__name__, "status": 0, "message": str(e)}, "sentTo": sent["to"]})


if __name__ == "__main__":
    main()
