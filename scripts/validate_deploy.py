"""Checks of the recipes in deploy/ that their schemas cannot make.

kubernetes-validate and check-jsonschema (run by scripts/validate-deploy)
prove each file is well-formed for its API. This proves the recipes do what
the README promises: one CronJob per scenario with concurrencyPolicy Forbid,
the scenarios it names present in the ConfigMap (and valid for
`firedrill validate`), a non-root read-only pod with limits and writable
emptyDirs for reports and /tmp, a ServiceAccount carrying an IAM role, a reap
CronJob over every scenario, flags that `firedrill <command> --help` knows;
an OIDC-authenticated scheduled workflow and a LocalStack CI workflow that
keeps the evidence and publishes the JUnit report.

Usage: validate_deploy.py DEPLOY_DIR FIREDRILL_BINARY
Prints every problem found as `file: problem` and exits 1 if there is any.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
REPORTS_DIR = "/var/lib/firedrill/reports"


class Problems:
    def __init__(self):
        self.items = []

    def add(self, where, message):
        self.items.append(f"{where}: {message}")


def load_manifests(k8s_dir):
    docs = []
    for path in sorted(k8s_dir.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


def pod_spec(cronjob):
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def scenario_mounts(spec, configmaps):
    """Mount path -> ConfigMap keys, for every ConfigMap volume mounted."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {}
    for container in spec["containers"]:
        for m in container.get("volumeMounts", []):
            cm = volumes.get(m["name"], {}).get("configMap")
            if cm:
                mounts[m["mountPath"].rstrip("/")] = set(configmaps.get(cm["name"], {}))
    return mounts


def check_pod_security(where, spec, problems):
    pod_sc = spec.get("securityContext", {})
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for c in spec["containers"]:
        sc = c.get("securityContext", {})
        if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
            problems.add(where, f"container {c['name']}: runAsNonRoot is not set")
        if not sc.get("readOnlyRootFilesystem"):
            problems.add(where, f"container {c['name']}: root file system is writable")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.add(where, f"container {c['name']}: allowPrivilegeEscalation is not false")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            problems.add(where, f"container {c['name']}: capabilities are not dropped")
        limits = c.get("resources", {}).get("limits", {})
        for resource in ("cpu", "memory"):
            if resource not in limits:
                problems.add(where, f"container {c['name']}: no {resource} limit")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes:
                problems.add(where, f"mount {m['mountPath']} names no volume ({m['name']})")
        for path in (REPORTS_DIR, "/tmp"):
            if "emptyDir" not in volumes.get(mounts.get(path), {}):
                problems.add(where, f"container {c['name']}: {path} is not an emptyDir "
                             "(the root file system is read-only)")


def check_args(where, args, mounts, help_of, problems):
    """The scenario files exist in the ConfigMap and every flag is known."""
    if not args:
        problems.add(where, "no args: which firedrill command?")
        return None
    command = args[0]
    known = help_of(command)
    for arg in args[1:]:
        flag = arg.split("=", 1)[0]
        if flag.startswith("--") and flag not in known:
            problems.add(where, f"`firedrill {command}` has no flag {flag}")
        if arg.endswith(".toml"):
            directory, _, name = arg.rpartition("/")
            if directory not in mounts:
                problems.add(where, f"{arg} is not under a ConfigMap mount")
            elif name not in mounts[directory]:
                problems.add(where, f"{arg}: the ConfigMap has no key {name}")
    return command


def scenario_of(args):
    return next((a.rpartition("/")[2].removesuffix(".toml") for a in args if a.endswith(".toml")), None)


def check_cronjob(where, cj, ctx, problems):
    spec = pod_spec(cj)
    if cj["spec"].get("concurrencyPolicy") != "Forbid":
        problems.add(where, "concurrencyPolicy is not Forbid")
    sa = spec.get("serviceAccountName")
    if sa not in ctx["service_accounts"]:
        problems.add(where, f"serviceAccountName {sa!r} is not defined")
    check_pod_security(where, spec, problems)
    mounts = scenario_mounts(spec, ctx["configmaps"])
    container = spec["containers"][0]
    args = container.get("command", [])[1:] + container.get("args", [])
    command = check_args(where, args, mounts, ctx["help_of"], problems)
    if command == "run":
        if cj["spec"]["jobTemplate"]["spec"].get("backoffLimit") != 0:
            problems.add(where, "a drill's Job must not retry (backoffLimit: 0)")
        uri = args[args.index("--evidence-uri") + 1] if "--evidence-uri" in args else ""
        if not uri.startswith("s3://"):
            problems.add(where, "the drill keeps no evidence in S3 (--evidence-uri s3://...)")
        ctx["drilled"].setdefault(scenario_of(args), []).append(where)
    elif command == "reap":
        ctx["reaped"].update(a.rpartition("/")[2].removesuffix(".toml") for a in args if a.endswith(".toml"))


def check_kubernetes(k8s_dir, help_of, problems):
    docs = load_manifests(k8s_dir)
    by_kind = {}
    for name, doc in docs:
        by_kind.setdefault(doc["kind"], []).append((name, doc))
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for _, d in by_kind.get("ConfigMap", [])}
    service_accounts = {}
    for name, sa in by_kind.get("ServiceAccount", []):
        arn = sa["metadata"].get("annotations", {}).get("eks.amazonaws.com/role-arn", "")
        if not ROLE_ARN.match(arn):
            problems.add(name, f"no IAM role ARN in eks.amazonaws.com/role-arn ({arn!r})")
        service_accounts[sa["metadata"]["name"]] = sa
    ctx = {"configmaps": configmaps, "service_accounts": service_accounts,
           "help_of": help_of, "drilled": {}, "reaped": set()}
    for name, cj in by_kind.get("CronJob", []):
        check_cronjob(name, cj, ctx, problems)
    scenarios = {key.removesuffix(".toml") for data in configmaps.values() for key in data if key.endswith(".toml")}
    if not scenarios:
        problems.add(str(k8s_dir), "no ConfigMap holds a scenario")
    for scenario in sorted(scenarios):
        jobs = ctx["drilled"].get(scenario, [])
        if len(jobs) != 1:
            problems.add(str(k8s_dir), f"scenario {scenario}: {len(jobs)} drill CronJobs, want one")
        if scenario not in ctx["reaped"]:
            problems.add(str(k8s_dir), f"scenario {scenario}: no reap CronJob searches its environment")
    return configmaps


def workflow_on(doc):
    # YAML 1.1 reads the key `on` as the boolean true.
    return doc.get("on", doc.get(True)) or {}


def steps_using(doc, action):
    return [s for job in doc.get("jobs", {}).values() for s in job.get("steps", [])
            if s.get("uses", "").split("@")[0] == action]


def check_workflows(gha_dir, problems):
    kinds = set()
    for path in sorted(gha_dir.glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        where = path.name
        text = path.read_text()
        if "schedule" in workflow_on(doc):
            kinds.add("scheduled")
            if doc.get("permissions", {}).get("id-token") != "write":
                problems.add(where, "scheduled drills need permissions: id-token: write (OIDC)")
            creds = steps_using(doc, "aws-actions/configure-aws-credentials")
            if not creds or any("role-to-assume" not in s.get("with", {}) for s in creds):
                problems.add(where, "AWS credentials do not come from a role assumed by OIDC")
            if "aws-access-key-id" in text or "AWS_SECRET_ACCESS_KEY: ${{ secrets" in text:
                problems.add(where, "long-lived AWS keys in a scheduled workflow")
            if not any("matrix" in job.get("strategy", {}) for job in doc["jobs"].values()):
                problems.add(where, "no matrix over scenarios")
        else:
            kinds.add("ci")
            services = [s for job in doc["jobs"].values() for s in job.get("services", {}).values()]
            if not any("localstack" in str(s.get("image", "")) for s in services):
                problems.add(where, "the CI drill runs against no LocalStack service")
            if not steps_using(doc, "actions/upload-artifact"):
                problems.add(where, "the evidence is not uploaded as an artifact")
            junit = [s for s in doc_steps(doc) if "junit.xml" in str(s.get("with", {}))]
            if not junit:
                problems.add(where, "the JUnit report is not published")
    for kind in ("scheduled", "ci"):
        if kind not in kinds:
            problems.add(str(gha_dir), f"no {kind} workflow")


def doc_steps(doc):
    return [s for job in doc.get("jobs", {}).values() for s in job.get("steps", [])]


def check_scenarios(configmaps, firedrill, problems):
    """Every scenario in a ConfigMap passes `firedrill validate`."""
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for data in configmaps.values():
            for key, text in data.items():
                if key.endswith(".toml"):
                    path = Path(tmp) / key
                    path.write_text(text)
                    files.append(str(path))
        if not files:
            return
        out = subprocess.run([firedrill, "validate", *files], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            problems.add("configmap scenarios", f"firedrill validate exited {out.returncode}:\n"
                         + out.stdout + out.stderr)


def main():
    deploy, firedrill = Path(sys.argv[1]), sys.argv[2]
    helps = {}

    def help_of(command):
        if command not in helps:
            out = subprocess.run([firedrill, command, "--help"], capture_output=True, text=True, check=False)
            helps[command] = set(re.findall(r"--[a-z][a-z0-9-]*", out.stdout))
        return helps[command]

    problems = Problems()
    configmaps = check_kubernetes(deploy / "kubernetes", help_of, problems)
    check_scenarios(configmaps, firedrill, problems)
    check_workflows(deploy / "github-actions", problems)
    for p in problems.items:
        print(p)
    if problems.items:
        print(f"{len(problems.items)} problem(s) in {deploy}")
        return 1
    print(f"recipes in {deploy}: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
