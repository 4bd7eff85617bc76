"""Minimal JSON schemas for the custom resources hop's manifests use.

kubernetes-validate bundles schemas for Kubernetes' own kinds only, and the operators' CRDs
cannot be downloaded here, so these schemas are written by hand from the CRDs' documented
fields. They cover the fields hop sets, reject fields they do not know on those objects
(a typo such as `groupwait` fails), and check the formats that the operators would refuse
at apply time: durations, match types, cron schedules with seconds, enumerations.
They are not the full CRDs: an unknown but valid field here is a reason to extend them.
test_manifests.py validates every rendered custom resource against them.
"""

DURATION = {"type": "string", "pattern": r"^(0|([0-9]+(ms|s|m|h|d|w|y))+)$"}
NAME_KEY = {
    "type": "object",
    "required": ["name", "key"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string", "minLength": 1}, "key": {"type": "string"}},
}
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
STRINGS = {"type": "array", "items": {"type": "string"}}


def _object(required, properties):
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def _resource(api_version, kind, spec):
    return _object(
        ["apiVersion", "kind", "metadata", "spec"],
        {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "labels": LABELS},
            },
            "spec": spec,
        },
    )


SERVICE_MONITOR = _resource(
    "monitoring.coreos.com/v1",
    "ServiceMonitor",
    _object(
        ["selector", "endpoints"],
        {
            "jobLabel": {"type": "string"},
            "selector": _object([], {"matchLabels": LABELS}),
            "namespaceSelector": {"type": "object"},
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": _object(
                    ["port"],
                    {
                        "port": {"type": "string"},
                        "path": {"type": "string", "pattern": "^/"},
                        "scheme": {"enum": ["http", "https"]},
                        "interval": DURATION,
                        "scrapeTimeout": DURATION,
                        "authorization": {"type": "object"},
                    },
                ),
            },
        },
    ),
)

PROMETHEUS_RULE = _resource(
    "monitoring.coreos.com/v1",
    "PrometheusRule",
    _object(
        ["groups"],
        {
            "groups": {
                "type": "array",
                "minItems": 1,
                "items": _object(
                    ["name", "rules"],
                    {
                        "name": {"type": "string"},
                        "interval": DURATION,
                        "rules": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["expr"],
                                "additionalProperties": False,
                                "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                                "properties": {
                                    "alert": {"type": "string"},
                                    "record": {"type": "string"},
                                    "expr": {"type": ["string", "integer"]},
                                    "for": DURATION,
                                    "keep_firing_for": DURATION,
                                    "labels": LABELS,
                                    "annotations": LABELS,
                                },
                            },
                        },
                    },
                ),
            }
        },
    ),
)

MATCHERS = {
    "type": "array",
    "items": _object(
        ["name"],
        {
            "name": {"type": "string", "minLength": 1},
            "value": {"type": "string"},
            "matchType": {"enum": ["=", "!=", "=~", "!~"]},
        },
    ),
}

# A route and its child routes have the same fields; "$defs" lets the schema recurse.
ROUTE = _object(
    [],
    {
        "receiver": {"type": "string"},
        "groupBy": STRINGS,
        "groupWait": DURATION,
        "groupInterval": DURATION,
        "repeatInterval": DURATION,
        "matchers": MATCHERS,
        "continue": {"type": "boolean"},
        "muteTimeIntervals": STRINGS,
        "activeTimeIntervals": STRINGS,
        "routes": {"type": "array", "items": {"$ref": "#/$defs/route"}},
    },
)

ALERTMANAGER_CONFIG = _resource(
    "monitoring.coreos.com/v1alpha1",
    "AlertmanagerConfig",
    _object(
        ["route", "receivers"],
        {
            "route": {"$ref": "#/$defs/route", "required": ["receiver"]},
            "receivers": {
                "type": "array",
                "minItems": 1,
                "items": _object(
                    ["name"],
                    {
                        "name": {"type": "string"},
                        "discordConfigs": {
                            "type": "array",
                            "items": _object(
                                ["apiURL"],
                                {
                                    "apiURL": NAME_KEY,
                                    "sendResolved": {"type": "boolean"},
                                    "title": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            ),
                        },
                    },
                ),
            },
            "inhibitRules": {
                "type": "array",
                "items": _object(
                    [],
                    {"sourceMatch": MATCHERS, "targetMatch": MATCHERS, "equal": STRINGS},
                ),
            },
        },
    ),
)

CNPG_CLUSTER = _resource(
    "postgresql.cnpg.io/v1",
    "Cluster",
    _object(
        ["instances", "storage"],
        {
            "instances": {"type": "integer", "minimum": 1},
            "imageName": {"type": "string", "pattern": ":[0-9]"},
            "primaryUpdateStrategy": {"enum": ["unsupervised", "supervised"]},
            "bootstrap": _object(
                [], {"initdb": _object([], {"database": {}, "owner": {}, "secret": NAME_KEY})}
            ),
            "postgresql": _object([], {"parameters": LABELS}),
            "storage": _object(["size"], {"size": {"type": "string"}, "storageClass": {}}),
            "affinity": _object(
                [], {"enablePodAntiAffinity": {"type": "boolean"}, "topologyKey": {}}
            ),
            "resources": {"type": "object"},
            "backup": _object(
                ["barmanObjectStore"],
                {
                    "retentionPolicy": {"type": "string", "pattern": "^[1-9][0-9]*[dwm]$"},
                    "barmanObjectStore": _object(
                        ["destinationPath"],
                        {
                            "destinationPath": {"type": "string", "pattern": "^(s3|gs)://"},
                            "endpointURL": {"type": "string"},
                            "s3Credentials": _object(
                                ["accessKeyId", "secretAccessKey"],
                                {"accessKeyId": NAME_KEY, "secretAccessKey": NAME_KEY},
                            ),
                            "wal": _object(
                                [], {"compression": {"enum": ["gzip", "bzip2", "snappy"]}}
                            ),
                            "data": _object(
                                [], {"compression": {"enum": ["gzip", "bzip2", "snappy"]}}
                            ),
                        },
                    ),
                },
            ),
        },
    ),
)

SCHEDULED_BACKUP = _resource(
    "postgresql.cnpg.io/v1",
    "ScheduledBackup",
    _object(
        ["schedule", "cluster"],
        {
            # CloudNativePG's schedules have a leading seconds field: six fields, not five.
            "schedule": {"type": "string", "pattern": r"^\S+( \S+){5}$"},
            "immediate": {"type": "boolean"},
            "backupOwnerReference": {"enum": ["none", "self", "cluster"]},
            "method": {"enum": ["barmanObjectStore", "volumeSnapshot", "plugin"]},
            "cluster": _object(["name"], {"name": {"type": "string"}}),
        },
    ),
)

CLUSTER_ISSUER = _resource(
    "cert-manager.io/v1",
    "ClusterIssuer",
    _object(
        ["acme"],
        {
            "acme": _object(
                ["server", "email", "privateKeySecretRef", "solvers"],
                {
                    "server": {"type": "string", "pattern": "^https://"},
                    "email": {"type": "string", "pattern": "^[^@ ]+@[^@ ]+$"},
                    "privateKeySecretRef": _object(["name"], {"name": {"type": "string"}}),
                    "solvers": {
                        "type": "array",
                        "minItems": 1,
                        "items": _object(
                            ["http01"],
                            {
                                "http01": _object(
                                    ["ingress"],
                                    {"ingress": _object([], {"ingressClassName": {}})},
                                )
                            },
                        ),
                    },
                },
            )
        },
    ),
)

ALERTMANAGER_CONFIG["$defs"] = {"route": ROUTE}

# (apiVersion, kind) -> schema, for every custom resource the manifests may contain.
SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"): ALERTMANAGER_CONFIG,
    ("postgresql.cnpg.io/v1", "Cluster"): CNPG_CLUSTER,
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): SCHEDULED_BACKUP,
    ("cert-manager.io/v1", "ClusterIssuer"): CLUSTER_ISSUER,
}
