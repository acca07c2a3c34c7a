"""Print, as JSON, the CloudFormation registry facts the IAM and template tests hold the stack to:
the handler permissions and create-only properties of every resource type stacks/mcp-auth.yaml
uses, read from the registry schemas that cfn-lint ships (it bundles the schemas AWS publishes
through the CloudFormation registry, per region; the us-east-1 set is read).

tests/iam/registry-handlers.json is this script's output, kept in the repository as test data;
tests/iam_policies.rs fails when the two differ (a new resource type in the template, or a cfn-lint
upgrade whose schemas changed), so the data is refreshed with:

    .venv/bin/python tests/iam/registry.py > tests/iam/registry-handlers.json
"""

import json
import os
import sys

import cfnlint
import cfnlint.version
from cfnlint.decode import decode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMAS = os.path.join(os.path.dirname(cfnlint.__file__), "data", "schemas")
REGION = "us-east-1"


def main() -> None:
    template, problems = decode(os.path.join(ROOT, "stacks", "mcp-auth.yaml"))
    if problems:
        sys.exit(f"stacks/mcp-auth.yaml does not parse: {problems}")
    types = sorted({r["Type"] for r in template["Resources"].values()})
    with open(os.path.join(SCHEMAS, "providers", f"{REGION}.json")) as f:
        provider = json.load(f)
    with open(os.path.join(SCHEMAS, "version.json")) as f:
        schema_date = json.load(f)["schema_date"]
    resource_types = {}
    for name in types:
        schema_file = f"cfnlint/data/schemas/resources/{provider[name]}.json"
        with open(os.path.join(SCHEMAS, "resources", f"{provider[name]}.json")) as f:
            schema = json.load(f)
        resource_types[name] = {
            "schema_file": schema_file,
            "createOnlyProperties": sorted(
                p.removeprefix("/properties/") for p in schema.get("createOnlyProperties", [])
            ),
            "handlers": {
                handler: sorted(set(spec.get("permissions", [])))
                for handler, spec in sorted(schema.get("handlers", {}).items())
            },
        }
    print(
        json.dumps(
            {
                "source": {
                    "what": "CloudFormation registry resource schemas (handlers.*.permissions, "
                    "createOnlyProperties), as AWS publishes them for "
                    f"{REGION}; the providers' sources are the GitHub repositories "
                    "aws-cloudformation/aws-cloudformation-resource-providers-cognito and "
                    "aws-cloudformation/aws-cloudformation-resource-providers-dynamodb",
                    "package": f"cfn-lint {cfnlint.version.__version__} (PyPI)",
                    "path": f"cfnlint/data/schemas/providers/{REGION}.json",
                    "schema_date": schema_date,
                    "refresh": ".venv/bin/python tests/iam/registry.py > "
                    "tests/iam/registry-handlers.json",
                },
                "resource_types": resource_types,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
