"""Runs a composite GitHub Action's steps here, as the GitHub runner would, for tests.

It reads action.yml, gives each step the environment its `env:` names (with `${{ inputs.* }}`,
`${{ github.action_path }}`, `${{ runner.temp }}` and `${{ steps.*.outputs.* }}` resolved),
runs its `run:` script with `bash -e -o pipefail` (the runner's shell for `shell: bash`),
collects what it writes to $GITHUB_OUTPUT, and stops at the first failing step, as GitHub does.

usage: python run_action.py ACTION_DIR INPUTS_JSON
Prints {"outputs": {...}, "failed_step": name or null, "summary": text} as JSON; exits with
the failing step's status, or 0.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def main() -> int:
    action_dir, given = sys.argv[1], json.loads(sys.argv[2])
    with open(os.path.join(action_dir, "action.yml"), encoding="utf-8") as f:
        action = yaml.safe_load(f)
    assert action["runs"]["using"] == "composite", "only composite actions"
    inputs = {name: str(spec.get("default", "")) for name, spec in action.get("inputs", {}).items()}
    for name, value in given.items():
        assert name in inputs, f"the action has no input {name!r}"
        inputs[name] = value
    missing = [n for n, s in action.get("inputs", {}).items() if s.get("required") and not inputs[n]]
    assert not missing, f"required inputs missing: {missing}"
    temp = tempfile.mkdtemp(prefix="runner-temp-")
    steps: dict[str, dict[str, str]] = {}

    def resolve(text: str) -> str:
        def one(m: re.Match) -> str:
            expr = m.group(1)
            if expr.startswith("inputs."):
                return inputs[expr[len("inputs."):]]
            if expr == "github.action_path":
                return action_dir
            if expr == "runner.temp":
                return temp
            parts = expr.split(".")
            if len(parts) == 4 and parts[0] == "steps" and parts[2] == "outputs":
                return steps.get(parts[1], {}).get(parts[3], "")
            raise ValueError(f"expression the test runner does not know: {expr}")
        return EXPRESSION.sub(one, text)

    summary_path = os.path.join(temp, "summary.md")
    failed, status = None, 0
    for step in action["runs"]["steps"]:
        assert step.get("shell") == "bash", f"{step.get('name')}: shell: bash expected"
        output_path = os.path.join(temp, f"output-{len(steps)}")
        open(output_path, "w").close()
        env = dict(os.environ)
        env.update({k: resolve(str(v)) for k, v in step.get("env", {}).items()})
        env.update({"GITHUB_OUTPUT": output_path, "GITHUB_STEP_SUMMARY": summary_path,
                    "GITHUB_ACTION_PATH": action_dir, "RUNNER_TEMP": temp})
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", resolve(step["run"])], env=env)
        with open(output_path, encoding="utf-8") as f:
            outputs = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        steps[step.get("id", f"step{len(steps)}")] = outputs
        if done.returncode != 0:
            failed, status = step.get("name"), done.returncode
            break
    result = {k: resolve(v["value"]) for k, v in action.get("outputs", {}).items()}
    summary = open(summary_path, encoding="utf-8").read() if os.path.exists(summary_path) else ""
    print(json.dumps({"outputs": result, "failed_step": failed, "summary": summary}))
    return status


if __name__ == "__main__":
    sys.exit(main())
