"""Which of the resource types Tether's templates use each AWS region lacks, from cfn-lint's per-region
CloudFormation resource provider schemas. Usage: region_support.py TEMPLATE... (prints JSON)."""

import json
import pathlib
import sys

import importlib.metadata

import cfnlint

providers = pathlib.Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"
used = sorted(
    {
        resource["Type"]
        for path in sys.argv[1:]
        for resource in json.loads(pathlib.Path(path).read_text())["Resources"].values()
        if not resource["Type"].startswith("Custom::")
    }
)
missing = {}
for schema in sorted(providers.glob("*.json")):
    region = schema.stem
    if "-" not in region:
        continue
    available = set(json.loads(schema.read_text()))
    missing[region] = [t for t in used if t not in available]
print(
    json.dumps(
        {
            "source": f"cfn-lint {importlib.metadata.version('cfn-lint')}: CloudFormation resource provider schemas per region",
            "resourceTypes": used,
            "missingByRegion": missing,
        },
        indent=2,
    )
)
