"""Audits every IAM policy document in Tether's synthesized templates with parliament.

parliament reads literal policies, so CloudFormation intrinsics in Resource are first resolved to sample ARNs of
the referenced resource's type (a table's Arn becomes arn:aws:dynamodb:<region>:<account>:table/sample, and so
on); then each policy is checked against parliament's database of AWS actions and resource types: an unknown
action, or a resource that does not fit an action, is a finding. Findings listed in iam-lint-allow.json (each
with its reason) are reported but do not fail. Usage: iam_lint.py ALLOW_FILE TEMPLATE...
"""

import json
import re
import sys

from parliament import analyze_policy_string

REGION = "eu-west-1"
ACCOUNT = "111122223333"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "sample-stack",
}

# A sample value of a resource attribute (a stream label really holds colons, e.g. 2026-01-01T00:00:00.000, which
# parliament splits ARNs on: the sample leaves them out), by resource type (Ref is the physical id, which for these is an ARN or
# a name used inside one).
SAMPLES = {
    ("AWS::DynamoDB::GlobalTable", "Arn"): f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/sample",
    ("AWS::DynamoDB::GlobalTable", "StreamArn"): f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/sample/stream/2026-01-01T000000.000",
    ("AWS::DynamoDB::Table", "Arn"): f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/sample",
    ("AWS::DynamoDB::Table", "StreamArn"): f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/sample/stream/2026-01-01T000000.000",
    ("AWS::Logs::LogGroup", "Arn"): f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:sample:*",
    ("AWS::Logs::LogGroup", "Ref"): "sample",
    ("AWS::SecretsManager::Secret", "Ref"): f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:sample-AbCdEf",
    ("AWS::ACMPCA::CertificateAuthority", "Arn"): f"arn:aws:acm-pca:{REGION}:{ACCOUNT}:certificate-authority/12345678-1234-1234-1234-123456789012",
    ("AWS::ACMPCA::CertificateAuthority", "Ref"): f"arn:aws:acm-pca:{REGION}:{ACCOUNT}:certificate-authority/12345678-1234-1234-1234-123456789012",
    ("AWS::Events::EventBus", "Arn"): f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/sample",
    ("AWS::SQS::Queue", "Arn"): f"arn:aws:sqs:{REGION}:{ACCOUNT}:sample",
    ("AWS::KMS::Key", "Arn"): f"arn:aws:kms:{REGION}:{ACCOUNT}:key/12345678-1234-1234-1234-123456789012",
    ("AWS::SNS::Topic", "Ref"): f"arn:aws:sns:{REGION}:{ACCOUNT}:sample",
    ("AWS::S3::Bucket", "Arn"): "arn:aws:s3:::sample",
    ("AWS::S3::Bucket", "Ref"): "sample",
    ("AWS::Lambda::Function", "Arn"): f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sample",
    ("AWS::IAM::Role", "Arn"): f"arn:aws:iam::{ACCOUNT}:role/sample",
    ("AWS::IoT::Policy", "Ref"): "sample",
    ("AWS::IoT::Policy", "Arn"): f"arn:aws:iot:{REGION}:{ACCOUNT}:policy/sample",
}


def main() -> int:
    allow_file, *paths = sys.argv[1:]
    with open(allow_file) as f:
        allowed = json.load(f)["allow"]

    def allowance(issue: str, policy: str, detail: str) -> str | None:
        for entry in allowed:
            if entry["issue"] == issue and policy.startswith(entry["policy"]) and entry.get("detail", "") in detail:
                return entry["reason"]
        return None
    templates = {}
    for path in paths:
        with open(path) as f:
            templates[path] = json.load(f)
    # Every resource of every template, for Fn::ImportValue (exports name the producing resource's logical id).
    all_resources = {lid: res for t in templates.values() for lid, res in t.get("Resources", {}).items()}

    def sample(logical_id: str, attribute: str) -> str:
        kind = all_resources.get(logical_id, {}).get("Type", "")
        value = SAMPLES.get((kind, attribute))
        if value is None:
            raise SystemExit(f"iam lint: no sample for {kind}.{attribute} ({logical_id}); add one to SAMPLES")
        return value

    def resolve(value):  # type: ignore[no-untyped-def]
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return PSEUDO.get(arg) or sample(arg, "Ref")
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return sample(logical_id, attribute)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(resolve(p) for p in parts)
            if key == "Fn::ImportValue":
                name = resolve(arg)
                for lid in sorted(all_resources, key=len, reverse=True):
                    if lid in name:
                        attribute = "Arn" if "Arn" in name.split(lid, 1)[1] else "Ref"
                        if "StreamArn" in name.split(lid, 1)[1]:
                            attribute = "StreamArn"
                        return sample(lid, attribute)
                raise SystemExit(f"iam lint: cannot resolve import {name}")
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg

                def substitute(match):  # type: ignore[no-untyped-def]
                    name = match.group(1)
                    if name in variables:
                        return resolve(variables[name])
                    if name in PSEUDO:
                        return PSEUDO[name]
                    logical_id, _, attribute = name.partition(".")
                    return sample(logical_id, attribute or "Ref")

                return re.sub(r"\$\{([^}!]+)\}", substitute, text)
            if key == "Fn::Select":
                index, items = arg
                return resolve(items)[int(index)]
            if key == "Fn::Split":
                separator, text = arg
                return resolve(text).split(separator)
        raise SystemExit(f"iam lint: cannot resolve {json.dumps(value)[:200]}")

    documents = []
    for path, template in templates.items():
        for lid, res in template.get("Resources", {}).items():
            props = res.get("Properties", {})
            if res.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                documents.append((path, lid, props["PolicyDocument"]))
            if res.get("Type") == "AWS::IAM::Role":
                for inline in props.get("Policies", []):
                    documents.append((path, f"{lid}/{inline['PolicyName']}", inline["PolicyDocument"]))

    failures = 0
    tolerated = 0
    for path, lid, document in documents:
        literal = {"Version": "2012-10-17", "Statement": []}
        for statement in document["Statement"]:
            literal["Statement"].append(
                {k: resolve(v) for k, v in statement.items() if k in ("Effect", "Action", "Resource")}
            )
        for finding in analyze_policy_string(json.dumps(literal)).findings:
            reason = allowance(finding.issue, lid, str(finding.detail))
            where = f"{path.rsplit('/', 1)[-1]} {lid}: {finding.issue} {finding.detail}"
            if reason:
                tolerated += 1
                print(f"allowed  {where} — {reason}")
            else:
                failures += 1
                print(f"FINDING  {where}")
    print(f"iam lint: {len(documents)} policy documents, {failures} findings, {tolerated} allowed by {allow_file}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
