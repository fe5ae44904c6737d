#!/usr/bin/env python3
"""Checks deploy/kubernetes/ without a cluster: every manifest against the
Kubernetes API schemas (kubernetes-validate, offline, strict: unknown fields
are errors), then the manifests against each other and against the gateway:
the container runs the binary's real `serve --config` on the mounted config;
its ports are the config's listeners; readiness is /ready on the metrics
port; the grace period covers drain_delay + drain_timeout; it runs non-root
on a read-only root filesystem; every file the config names is mounted from
a ConfigMap or Secret key that exists; the ban folder is a ReadWriteMany
claim; selectors match the pods. (tests/gateway/kubernetes.rs runs the
config itself through the gateway's own validation.)

    check_kubernetes.py GATEWAY_BINARY
"""

import pathlib
import subprocess
import sys
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"

problems = []


def expect(condition, what):
    if not condition:
        problems.append(what)


def seconds(text):
    assert text.endswith("s") and text[:-1].isdigit(), f"{text!r}: write whole seconds in the manifests"
    return int(text[:-1])


def main():
    binary = sys.argv[1]
    files = sorted(MANIFESTS.glob("*.yaml"))
    schema = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "kubernetes-validate"), "--strict", "--quiet", *map(str, files)],
        capture_output=True,
        text=True,
    )
    expect(schema.returncode == 0, f"schema validation failed:\n{schema.stdout}{schema.stderr}")

    docs = [d for f in files for d in yaml.safe_load_all(f.read_text()) if d]
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    (deployment,) = by_kind["Deployment"]
    (configmap,) = by_kind["ConfigMap"]
    secrets = {s["metadata"]["name"]: s for s in by_kind["Secret"]}
    claims = {c["metadata"]["name"]: c for c in by_kind["PersistentVolumeClaim"]}
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    (container,) = pod["spec"]["containers"]
    config = tomllib.loads(configmap["data"]["gateway.toml"])

    # The command is the binary's own.
    help_text = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True).stdout
    expect("--config <CONFIG>" in help_text, "the binary's serve has no --config")
    args = container["args"]
    expect(args[:2] == ["serve", "--config"], f"args {args}")

    # Every file the config names, and the config itself, is mounted from a key that exists.
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = container["volumeMounts"]

    def source_of(path):
        for mount in mounts:
            prefix = mount["mountPath"].rstrip("/") + "/"
            if path.startswith(prefix):
                return volumes[mount["name"]], path[len(prefix):], mount
        return None, None, None

    files_named = [
        args[2],
        config["tls"]["certificate"],
        config["tls"]["private_key"],
        config["tls"]["client_ca"],
        config["jwt"]["jwks"],
        config["jwt"]["revocations"],
        config["backend"]["google"]["service_account_key_file"],
    ]
    for path in files_named:
        volume, key, mount = source_of(path)
        if volume is None:
            problems.append(f"{path} is on no volume")
            continue
        expect(mount.get("readOnly") is True, f"{path}: its mount is writable")
        if "configMap" in volume:
            expect(key in configmap["data"], f"{path}: no key {key} in the ConfigMap")
        elif "secret" in volume:
            secret = secrets[volume["secret"]["secretName"]]
            expect(key in secret.get("stringData", secret.get("data", {})), f"{path}: no key {key} in {secret['metadata']['name']}")
        else:
            problems.append(f"{path} is on neither a ConfigMap nor a Secret")

    bans, _, mount = source_of(config["bans"]["shared_dir"] + "/x")
    expect(bans is not None and "persistentVolumeClaim" in bans, "bans.shared_dir is not on a claim")
    if bans is not None and "persistentVolumeClaim" in bans:
        claim = claims[bans["persistentVolumeClaim"]["claimName"]]
        expect("ReadWriteMany" in claim["spec"]["accessModes"], "the ban claim is not ReadWriteMany")
        expect(not mount.get("readOnly"), "the ban folder is mounted read-only")

    # Ports and probes are the config's listeners.
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    expect(ports.get("mcp") == int(config["listen"]["address"].rsplit(":", 1)[1]), f"mcp port {ports}")
    expect(ports.get("metrics") == int(config["metrics"]["listen"].rsplit(":", 1)[1]), f"metrics port {ports}")
    ready = container["readinessProbe"]["httpGet"]
    expect(ready["path"] == "/ready" and ready["port"] == "metrics", f"readiness {ready}")
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    drain = seconds(config["listen"]["drain_delay"]) + seconds(config["listen"]["drain_timeout"])
    expect(grace > drain, f"terminationGracePeriodSeconds {grace} <= drain_delay + drain_timeout {drain}")
    probe = container["readinessProbe"]
    expect(
        probe["periodSeconds"] * probe["failureThreshold"] < seconds(config["listen"]["drain_delay"]),
        "drain_delay ends before the readiness probe can notice",
    )

    # Locked down.
    pod_security = pod["spec"]["securityContext"]
    security = container["securityContext"]
    expect(pod_security.get("runAsNonRoot") is True and pod_security.get("runAsUser", 0) != 0, "runs as root")
    expect(security.get("readOnlyRootFilesystem") is True, "root filesystem writable")
    expect(security.get("allowPrivilegeEscalation") is False, "privilege escalation allowed")
    expect(security.get("capabilities", {}).get("drop") == ["ALL"], "capabilities kept")

    # Selectors reach the pods; the Service's target port exists.
    for doc in by_kind["PodDisruptionBudget"] + [deployment]:
        selector = doc["spec"]["selector"]["matchLabels"]
        expect(selector.items() <= labels.items(), f"{doc['kind']} selector {selector}")
    for service in by_kind["Service"]:
        expect(service["spec"]["selector"].items() <= labels.items(), f"Service {service['metadata']['name']} selector")
        for port in service["spec"]["ports"]:
            expect(port["targetPort"] in ports, f"Service targetPort {port['targetPort']}")

    if problems:
        print("deploy/kubernetes:", *problems, sep="\n  ")
        return 1
    print(f"deploy/kubernetes: {len(docs)} resources in {len(files)} files valid against the API schemas and the gateway")
    return 0


if __name__ == "__main__":
    sys.exit(main())
