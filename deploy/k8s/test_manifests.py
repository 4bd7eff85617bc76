"""Assertions on what `kubectl kustomize` renders for each overlay of deploy/k8s.

kubernetes-validate checks that each object is well formed; these tests check that the
objects fit together and keep hop's operating promises: probes on the right paths, a
grace period longer than hop's drain, a ServiceMonitor on the port that serves /metrics,
the overlay's host on the TLS certificate, and so on. They need kubectl (for kustomize),
PyYAML and jsonschema, and no cluster:

    python3 -m unittest discover -s deploy/k8s -p test_manifests.py -v
"""

import copy
import json
import subprocess
import unittest
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import yaml

import cr_schemas

K8S = Path(__file__).resolve().parent
ALERTS = K8S.parent / "monitoring" / "alerts.yml"

# Secrets prod expects to exist already (docs/deploy.md); everything else must be rendered.
PROD_EXTERNAL_SECRETS = {"hop-env", "hop-alertmanager-discord", "hop-db-backup-s3"}


class Loader(yaml.SafeLoader):
    """PyYAML reads a bare `=` (kustomize writes matchType: = unquoted) as YAML 1.1's
    `value` tag; Kubernetes reads it as the string "=", and so do we."""


Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: node.value)


def render(directory):
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S / directory)],
        check=True,
        capture_output=True,
        text=True,
    )
    return [doc for doc in yaml.load_all(out.stdout, Loader=Loader) if doc]


def load_yaml(path):
    return yaml.load(path.read_text(), Loader=Loader)


def env_file(path):
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def quantity(text):
    """A Kubernetes quantity ("250m", "1", "512Mi") as a float of base units."""
    text = str(text)
    suffixes = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in suffixes.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def pod_specs(objects):
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            yield obj["metadata"]["name"], obj["spec"]["template"]["spec"]


def containers(pod):
    return pod.get("initContainers", []) + pod["containers"]


class OverlayTests:
    """Tests every overlay must pass; subclasses name the overlay and its expectations."""

    overlay = None
    issuer = None
    min_replicas = None

    @classmethod
    def setUpClass(cls):
        cls.objects = render(f"overlays/{cls.overlay}")
        cls.params = load_yaml(K8S / "overlays" / cls.overlay / "params.yaml")["data"]
        cls.kustomization = load_yaml(K8S / "overlays" / cls.overlay / "kustomization.yaml")

    # Helpers

    def one(self, kind, name):
        found = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        self.assertEqual(len(found), 1, f"expected exactly one {kind} {name}")
        return found[0]

    def named(self, kind, prefix):
        """The object whose name is `prefix` plus kustomize's hash suffix, if any."""
        found = [
            o
            for o in self.objects
            if o["kind"] == kind
            and (o["metadata"]["name"] == prefix or o["metadata"]["name"].startswith(prefix + "-"))
        ]
        self.assertEqual(len(found), 1, f"expected exactly one {kind} named {prefix}[-hash]")
        return found[0]

    def hop_pod(self):
        return self.one("Deployment", "hop")["spec"]["template"]["spec"]

    def hop_container(self):
        (container,) = [c for c in self.hop_pod()["containers"] if c["name"] == "hop"]
        return container

    def hop_config(self):
        return self.named("ConfigMap", "hop-config")["data"]

    def port_number(self, container, name):
        (port,) = [p for p in container["ports"] if p["name"] == name]
        return port["containerPort"]

    # Namespace and parameters

    def test_every_namespaced_object_lands_in_the_overlay_namespace(self):
        namespace = self.kustomization["namespace"]

        self.assertEqual(self.params["namespace"], namespace)
        self.assertEqual(self.one("Namespace", namespace)["metadata"]["name"], namespace)
        for obj in self.objects:
            if obj["kind"] != "Namespace":
                self.assertEqual(obj["metadata"].get("namespace"), namespace, obj["kind"])

    def test_the_parameters_object_is_not_rendered(self):
        names = {o["metadata"]["name"] for o in self.objects if o["kind"] == "ConfigMap"}

        self.assertNotIn("deploy-params", names)

    def test_the_namespace_enforces_the_restricted_pod_security_profile(self):
        namespace = self.one("Namespace", self.kustomization["namespace"])

        labels = namespace["metadata"]["labels"]
        self.assertEqual(labels["pod-security.kubernetes.io/enforce"], "restricted")

    # hop's Deployment

    def test_liveness_probes_health_and_readiness_probes_ready_on_the_serving_port(self):
        container = self.hop_container()

        self.assertEqual(container["livenessProbe"]["httpGet"]["path"], "/health")
        self.assertEqual(container["readinessProbe"]["httpGet"]["path"], "/ready")
        self.assertEqual(container["livenessProbe"]["httpGet"]["port"], "http")
        self.assertEqual(container["readinessProbe"]["httpGet"]["port"], "http")
        listen_port = int(self.hop_config()["HOP_LISTEN"].rsplit(":", 1)[1])
        self.assertEqual(self.port_number(container, "http"), listen_port)

    def test_hop_has_requests_and_the_limits_its_alerts_are_sized_for(self):
        resources = self.hop_container()["resources"]

        self.assertEqual(set(resources["requests"]), {"cpu", "memory"})
        # alerts.yml: HopHighCpu fires at 0.8 cores and HopHighMemory at 400 MiB, 80% of these.
        self.assertEqual(quantity(resources["limits"]["cpu"]), 1.0)
        self.assertEqual(quantity(resources["limits"]["memory"]), 512 * 2**20)
        self.assertIn("> 0.8", ALERTS.read_text())
        self.assertIn("> 400 * 1024 * 1024", ALERTS.read_text())

    def test_every_container_has_requests_and_limits(self):
        for workload, pod in pod_specs(self.objects):
            for container in containers(pod):
                with self.subTest(workload=workload, container=container["name"]):
                    resources = container["resources"]
                    self.assertEqual(set(resources["requests"]), {"cpu", "memory"})
                    self.assertIn("memory", resources["limits"])
                    self.assertLessEqual(
                        quantity(resources["requests"]["memory"]),
                        quantity(resources["limits"]["memory"]),
                    )

    def test_every_container_runs_unprivileged_on_a_read_only_root(self):
        for workload, pod in pod_specs(self.objects):
            self.assertTrue(pod["securityContext"]["runAsNonRoot"], workload)
            self.assertGreater(pod["securityContext"]["runAsUser"], 0, workload)
            self.assertEqual(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault")
            self.assertFalse(pod["automountServiceAccountToken"], workload)
            for container in containers(pod):
                with self.subTest(workload=workload, container=container["name"]):
                    context = container["securityContext"]
                    self.assertIs(context["readOnlyRootFilesystem"], True)
                    self.assertIs(context["allowPrivilegeEscalation"], False)
                    self.assertEqual(context["capabilities"]["drop"], ["ALL"])

    def test_hop_runs_at_least_two_replicas_through_its_autoscaler(self):
        deployment = self.one("Deployment", "hop")
        hpa = self.one("HorizontalPodAutoscaler", "hop")

        # Left to the HPA, so that `kubectl apply` never scales a busy Deployment back down.
        self.assertNotIn("replicas", deployment["spec"])
        self.assertEqual(hpa["spec"]["minReplicas"], self.min_replicas)
        self.assertGreaterEqual(hpa["spec"]["minReplicas"], 2)
        self.assertGreater(hpa["spec"]["maxReplicas"], hpa["spec"]["minReplicas"])

    def test_rolling_updates_never_take_a_ready_pod_away_first(self):
        strategy = self.one("Deployment", "hop")["spec"]["strategy"]

        self.assertEqual(strategy["type"], "RollingUpdate")
        self.assertEqual(strategy["rollingUpdate"]["maxUnavailable"], 0)
        self.assertGreaterEqual(strategy["rollingUpdate"]["maxSurge"], 1)

    def test_the_grace_period_outlasts_the_prestop_sleep_plus_hops_drain(self):
        pod = self.hop_pod()
        drain = int(self.hop_config()["HOP_SHUTDOWN_GRACE_SECS"])
        pre_stop = self.hop_container()["lifecycle"]["preStop"]["sleep"]["seconds"]

        self.assertEqual(drain, 20)
        self.assertGreater(pod["terminationGracePeriodSeconds"], drain + pre_stop)

    def test_replicas_spread_across_nodes(self):
        constraints = self.hop_pod()["topologySpreadConstraints"]
        pod_labels = self.one("Deployment", "hop")["spec"]["template"]["metadata"]["labels"]

        keys = [c["topologyKey"] for c in constraints]
        self.assertIn("kubernetes.io/hostname", keys)
        for constraint in constraints:
            selector = constraint["labelSelector"]["matchLabels"]
            self.assertLessEqual(selector.items(), pod_labels.items())

    def test_migrations_run_in_an_init_container_with_hops_image_and_settings(self):
        pod = self.hop_pod()

        (init,) = pod["initContainers"]
        self.assertEqual(init["args"], ["migrate"])
        self.assertEqual(init["image"], self.hop_container()["image"])
        self.assertEqual(init["envFrom"], self.hop_container()["envFrom"])
        self.assertEqual(self.hop_container()["args"], ["serve"])

    def test_hop_runs_the_overlays_pinned_image(self):
        (image,) = [i for i in self.kustomization["images"] if i["name"] == "hop"]

        expected = f"{image['newName']}:{image['newTag']}"
        self.assertEqual(self.hop_container()["image"], expected)

    def test_no_image_floats_on_latest_or_an_implicit_tag(self):
        for workload, pod in pod_specs(self.objects):
            for container in containers(pod):
                with self.subTest(workload=workload, container=container["name"]):
                    name, _, tag = container["image"].rpartition(":")
                    self.assertTrue(name and tag and "/" not in tag, container["image"])
                    self.assertNotEqual(tag, "latest")

    def test_every_referenced_config_map_and_secret_is_rendered_or_documented(self):
        rendered = {(o["kind"], o["metadata"]["name"]) for o in self.objects}
        external = PROD_EXTERNAL_SECRETS if self.overlay == "prod" else set()

        for workload, pod in pod_specs(self.objects):
            for container in containers(pod):
                for source in container.get("envFrom", []):
                    if "configMapRef" in source:
                        ref = ("ConfigMap", source["configMapRef"]["name"])
                        self.assertIn(ref, rendered, workload)
                    else:
                        name = source["secretRef"]["name"]
                        if name not in external:
                            self.assertIn(("Secret", name), rendered, workload)

    # Service, ingress, TLS

    def test_the_service_selects_hops_pods_and_targets_named_ports(self):
        service = self.one("Service", "hop")
        pod_labels = self.one("Deployment", "hop")["spec"]["template"]["metadata"]["labels"]
        port_names = {p["name"] for p in self.hop_container()["ports"]}

        self.assertLessEqual(service["spec"]["selector"].items(), pod_labels.items())
        for port in service["spec"]["ports"]:
            self.assertIn(port["targetPort"], port_names)

    def test_the_ingress_serves_the_overlay_host_over_tls_from_its_issuer(self):
        ingress = self.one("Ingress", "hop")
        host = self.params["host"]

        self.assertEqual([rule["host"] for rule in ingress["spec"]["rules"]], [host])
        self.assertEqual(ingress["spec"]["tls"], [{"hosts": [host], "secretName": "hop-tls"}])
        self.assertEqual(ingress["spec"]["ingressClassName"], self.params["ingressClass"])
        annotations = ingress["metadata"]["annotations"]
        self.assertEqual(annotations["cert-manager.io/cluster-issuer"], self.issuer)
        self.assertEqual(annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"], "true")
        backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        self.assertEqual(backend, {"name": "hop", "port": {"name": "http"}})

    def test_the_issuer_named_by_the_ingress_exists(self):
        issuers = {o["metadata"]["name"] for o in render("cert-manager")}

        self.assertIn(self.params["clusterIssuer"], issuers)

    def test_hops_public_url_is_the_ingress_host_over_https(self):
        self.assertEqual(self.hop_config()["HOP_PUBLIC_URL"], f"https://{self.params['host']}")

    def test_no_placeholder_survives_rendering(self):
        text = yaml.safe_dump_all(self.objects)

        self.assertNotIn(".invalid", text.replace("discord.invalid", ""))

    # Availability and scaling

    def test_the_autoscaler_scales_hops_deployment_on_cpu(self):
        hpa = self.one("HorizontalPodAutoscaler", "hop")

        self.assertEqual(hpa["apiVersion"], "autoscaling/v2")
        self.assertEqual(
            hpa["spec"]["scaleTargetRef"],
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hop"},
        )
        (metric,) = hpa["spec"]["metrics"]
        self.assertEqual(metric["resource"]["name"], "cpu")
        self.assertEqual(metric["resource"]["target"]["type"], "Utilization")

    def test_the_disruption_budget_covers_hops_pods_and_keeps_one_serving(self):
        pdb = self.one("PodDisruptionBudget", "hop")
        pod_labels = self.one("Deployment", "hop")["spec"]["template"]["metadata"]["labels"]
        hpa = self.one("HorizontalPodAutoscaler", "hop")

        self.assertLessEqual(pdb["spec"]["selector"]["matchLabels"].items(), pod_labels.items())
        self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
        self.assertLess(pdb["spec"]["maxUnavailable"], hpa["spec"]["minReplicas"])

    def test_database_connections_fit_at_full_scale(self):
        pool = int(self.hop_config()["HOP_DB_POOL_SIZE"])
        max_replicas = self.one("HorizontalPodAutoscaler", "hop")["spec"]["maxReplicas"]

        # Each pod may also hold one connection for its migration during a rollout.
        self.assertLess(max_replicas * (pool + 1), self.max_connections())

    # Network policies

    def test_only_the_ingress_controller_and_monitoring_reach_hop(self):
        policy = self.one("NetworkPolicy", "hop")
        pod_labels = self.one("Deployment", "hop")["spec"]["template"]["metadata"]["labels"]

        selector = policy["spec"]["podSelector"]["matchLabels"]
        self.assertLessEqual(selector.items(), pod_labels.items())
        self.assertEqual(policy["spec"]["policyTypes"], ["Ingress", "Egress"])
        allowed = {}
        for rule in policy["spec"]["ingress"]:
            (peer,) = rule["from"]
            self.assertEqual(set(peer), {"namespaceSelector"})
            namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            allowed[namespace] = [p["port"] for p in rule["ports"]]
        self.assertEqual(allowed, {"ingress-nginx": ["http"], "monitoring": ["metrics"]})

    def test_hop_reaches_only_dns_postgresql_and_redis(self):
        policy = self.one("NetworkPolicy", "hop")

        ports = sorted(
            (p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule["ports"]
        )
        self.assertEqual(ports, [(53, "TCP"), (53, "UDP"), (5432, "TCP"), (6379, "TCP")])
        for rule in policy["spec"]["egress"]:
            for peer in rule["to"]:
                self.assertNotIn("ipBlock", peer)

    def test_only_hop_reaches_redis(self):
        policy = self.one("NetworkPolicy", "redis")

        (rule,) = policy["spec"]["ingress"]
        (peer,) = rule["from"]
        self.assertEqual(peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"], "hop")

    # Redis

    def test_redis_is_a_cache_that_persists_nothing_and_evicts_within_its_limit(self):
        (container,) = self.one("Deployment", "redis")["spec"]["template"]["spec"]["containers"]
        args = container["args"]

        def arg(name):
            return args[args.index(name) + 1]

        self.assertEqual(arg("--save"), "")
        self.assertEqual(arg("--appendonly"), "no")
        self.assertEqual(arg("--maxmemory-policy"), "allkeys-lru")
        maxmemory = quantity(arg("--maxmemory").replace("mb", "Mi"))
        self.assertLess(maxmemory, 0.8 * quantity(container["resources"]["limits"]["memory"]))

    # Monitoring

    def test_the_service_monitor_scrapes_the_container_port_that_serves_metrics(self):
        monitor = self.one("ServiceMonitor", "hop")
        service = self.one("Service", "hop")
        container = self.hop_container()

        (endpoint,) = monitor["spec"]["endpoints"]
        self.assertEqual(endpoint["path"], "/metrics")
        (service_port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
        self.assertEqual(service_port["targetPort"], "metrics")
        admin_port = int(self.hop_config()["HOP_ADMIN_LISTEN"].rsplit(":", 1)[1])
        self.assertEqual(self.port_number(container, service_port["targetPort"]), admin_port)
        self.assertLessEqual(
            monitor["spec"]["selector"]["matchLabels"].items(),
            service["metadata"]["labels"].items(),
        )

    def test_the_scrape_job_is_named_hop_as_the_alerts_expect(self):
        monitor = self.one("ServiceMonitor", "hop")
        service = self.one("Service", "hop")

        self.assertEqual(service["metadata"]["labels"][monitor["spec"]["jobLabel"]], "hop")

    def test_alert_rules_are_alerts_yml_labelled_with_the_namespace(self):
        rule = self.one("PrometheusRule", "hop")
        source = load_yaml(ALERTS)["groups"]

        for group in rule["spec"]["groups"]:
            for alert in group["rules"]:
                self.assertEqual(alert["labels"]["namespace"], self.params["namespace"])
                del alert["labels"]["namespace"]
        self.assertEqual(rule["spec"]["groups"], source)

    def test_the_dashboard_is_labelled_for_grafanas_sidecar_and_parses(self):
        dashboard = self.one("ConfigMap", "hop-grafana-dashboard")

        self.assertEqual(dashboard["metadata"]["labels"]["grafana_dashboard"], "1")
        self.assertEqual(json.loads(dashboard["data"]["hop.json"])["uid"], "hop")

    def test_alert_routes_name_defined_receivers_that_read_the_discord_secret(self):
        config = self.one("AlertmanagerConfig", "hop")["spec"]
        receivers = {r["name"] for r in config["receivers"]}

        def walk(route):
            self.assertIn(route["receiver"], receivers)
            for child in route.get("routes", []):
                walk(child)

        walk(config["route"])
        for receiver in config["receivers"]:
            for discord in receiver["discordConfigs"]:
                self.assertEqual(discord["apiURL"]["name"], "hop-alertmanager-discord")

    def test_custom_resources_match_their_schemas(self):
        custom = [o for o in self.objects if (o["apiVersion"], o["kind"]) in cr_schemas.SCHEMAS]

        self.assertGreaterEqual(len(custom), 3)
        for obj in custom:
            with self.subTest(kind=obj["kind"], name=obj["metadata"]["name"]):
                schema = cr_schemas.SCHEMAS[(obj["apiVersion"], obj["kind"])]
                jsonschema.Draft202012Validator(schema).validate(obj)

    def test_every_object_is_a_kind_with_a_schema(self):
        builtin = {
            "Namespace", "ServiceAccount", "ConfigMap", "Secret", "Service", "Deployment",
            "StatefulSet", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
            "Ingress",
        }  # fmt: skip

        for obj in self.objects:
            known = obj["kind"] in builtin or (obj["apiVersion"], obj["kind"]) in cr_schemas.SCHEMAS
            self.assertTrue(known, f"{obj['apiVersion']} {obj['kind']} has no schema")


class DevOverlay(OverlayTests, unittest.TestCase):
    overlay = "dev"
    issuer = "letsencrypt-staging"
    min_replicas = 2

    def max_connections(self):
        return 100  # PostgreSQL's default; the dev StatefulSet does not change it.

    def test_the_database_is_a_one_pod_statefulset_behind_a_service(self):
        statefulset = self.one("StatefulSet", "postgres")

        self.assertEqual(statefulset["spec"]["replicas"], 1)
        (claim,) = statefulset["spec"]["volumeClaimTemplates"]
        self.assertEqual(claim["metadata"]["name"], "data")
        self.assertEqual(self.one("Service", "postgres")["spec"]["ports"][0]["port"], 5432)

    def test_the_example_secrets_agree_with_each_other_and_name_rendered_services(self):
        hop_env = env_file(K8S / "overlays" / "dev" / "hop.example.env")
        postgres_env = env_file(K8S / "overlays" / "dev" / "postgres.example.env")

        database = urlsplit(hop_env["DATABASE_URL"])
        self.assertEqual(database.scheme, "postgres")
        self.assertEqual(database.username, postgres_env["POSTGRES_USER"])
        self.assertEqual(database.password, postgres_env["POSTGRES_PASSWORD"])
        self.assertEqual(database.path, "/" + postgres_env["POSTGRES_DB"])
        for url in (database, urlsplit(hop_env["REDIS_URL"])):
            service = self.one("Service", url.hostname)
            self.assertIn(url.port, [p["port"] for p in service["spec"]["ports"]])

    def test_the_discord_secret_has_every_key_the_alertmanager_config_reads(self):
        secret = self.one("Secret", "hop-alertmanager-discord")
        config = self.one("AlertmanagerConfig", "hop")["spec"]

        keys = {d["apiURL"]["key"] for r in config["receivers"] for d in r["discordConfigs"]}
        self.assertEqual(keys, set(secret["data"]))


class ProdOverlay(OverlayTests, unittest.TestCase):
    overlay = "prod"
    issuer = "letsencrypt-prod"
    min_replicas = 3

    def max_connections(self):
        cluster = self.one("Cluster", "hop-db")
        return int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])

    def test_no_secret_is_committed(self):
        secrets = [o["metadata"]["name"] for o in self.objects if o["kind"] == "Secret"]

        self.assertEqual(secrets, [])

    def test_the_database_is_a_replicated_cloudnativepg_cluster_with_backups(self):
        cluster = self.one("Cluster", "hop-db")
        backup = self.one("ScheduledBackup", "hop-db-nightly")

        self.assertGreaterEqual(cluster["spec"]["instances"], 2)
        store = cluster["spec"]["backup"]["barmanObjectStore"]
        self.assertEqual(store["s3Credentials"]["accessKeyId"]["name"], "hop-db-backup-s3")
        self.assertEqual(backup["spec"]["cluster"]["name"], "hop-db")
        self.assertEqual(backup["spec"]["method"], "barmanObjectStore")
        self.assertEqual([o for o in self.objects if o["kind"] == "StatefulSet"], [])


class ClusterIssuers(unittest.TestCase):
    def test_staging_and_production_issuers_point_at_lets_encrypt(self):
        issuers = {o["metadata"]["name"]: o for o in render("cert-manager")}

        self.assertEqual(set(issuers), {"letsencrypt-staging", "letsencrypt-prod"})
        staging = issuers["letsencrypt-staging"]["spec"]["acme"]["server"]
        prod = issuers["letsencrypt-prod"]["spec"]["acme"]["server"]
        self.assertEqual(staging, "https://acme-staging-v02.api.letsencrypt.org/directory")
        self.assertEqual(prod, "https://acme-v02.api.letsencrypt.org/directory")
        for issuer in issuers.values():
            self.assertNotIn("namespace", issuer["metadata"])
            schema = cr_schemas.SCHEMAS[("cert-manager.io/v1", "ClusterIssuer")]
            jsonschema.Draft202012Validator(schema).validate(issuer)


class Schemas(unittest.TestCase):
    """The hand-written schemas must be able to fail, or the tests above prove nothing."""

    def test_a_misspelled_route_field_is_rejected(self):
        (config,) = [o for o in render("overlays/dev") if o["kind"] == "AlertmanagerConfig"]
        broken = copy.deepcopy(config)
        broken["spec"]["route"]["routes"][0]["groupwait"] = "10s"

        schema = cr_schemas.SCHEMAS[("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig")]
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(schema).validate(broken)

    def test_a_five_field_backup_schedule_is_rejected(self):
        (backup,) = [o for o in render("overlays/prod") if o["kind"] == "ScheduledBackup"]
        broken = copy.deepcopy(backup)
        broken["spec"]["schedule"] = "0 3 * * *"

        schema = cr_schemas.SCHEMAS[("postgresql.cnpg.io/v1", "ScheduledBackup")]
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(schema).validate(broken)


if __name__ == "__main__":
    unittest.main()
