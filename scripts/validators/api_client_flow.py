"""The main API flow through the client openapi-python-client generated from
openapi/openapi.json, using its typed models only (no raw JSON handling):
profile -> request -> poll the run -> list artifacts -> download one -> approve.
A model that does not match what the server sends fails here.

Usage: SECCFG_API_KEY=... api_client_flow.py BASE_URL PROFILE_JSON   (client package on PYTHONPATH)
The key must be an admin key named `client-flow`: the approval records it as the reviewer.
"""

import json
import os
import sys
import time

from seccfg_client import AuthenticatedClient
from seccfg_client.api.approval import decide_run, get_decision
from seccfg_client.api.profiles import create_profile
from seccfg_client.api.requests import create_request
from seccfg_client.api.runs import get_artifact, get_run, list_artifacts
from seccfg_client.models import (
    AcceptedRequest,
    ApprovalBody,
    ArtifactInfo,
    DecisionRecord,
    DecisionResponse,
    ProfileBody,
    ProfileResponse,
    RequestedService,
    RunView,
    ServiceRequestBody,
    Verdict,
)
from seccfg_client.types import File


def expect(value, kind, what):
    if not isinstance(value, kind):
        sys.exit(f"{what}: expected {kind.__name__}, got {value!r}")
    return value


def main(base_url: str, profile_path: str) -> None:
    client = AuthenticatedClient(
        base_url=base_url, token=os.environ["SECCFG_API_KEY"], raise_on_unexpected_status=True, timeout=30.0
    )
    with open(profile_path, encoding="utf-8") as f:
        profile = ProfileBody.from_dict(json.load(f))
    stored = expect(create_profile.sync(client=client, body=profile), ProfileResponse, "createProfile")

    body = ServiceRequestBody(
        request_id="REQ-CLIENT-FLOW",
        services=[RequestedService(service_name="Amazon S3")],
        profile_id=stored.profile_id,
        profile_version=stored.version,
    )
    accepted = expect(create_request.sync(client=client, body=body), AcceptedRequest, "createRequest")
    assert accepted.profile_version == stored.version, accepted
    run_id = accepted.runs[0].run_id

    deadline = time.monotonic() + 120
    while True:
        run = expect(get_run.sync(run_id, client=client), RunView, "getRun")
        if run.status in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert run.status == "succeeded", f"run {run_id} ended {run.status}: {run.error}"
    assert all(stage.status == "succeeded" for stage in run.stages), run.stages

    artifacts = list_artifacts.sync(run_id, client=client)
    assert isinstance(artifacts, list) and artifacts, artifacts
    infos = [expect(a, ArtifactInfo, "listArtifacts item") for a in artifacts]
    controls = next(a for a in infos if a.name == "controls.json")
    download = expect(get_artifact.sync(run_id, "controls.json", client=client), File, "getArtifact")
    data = download.payload.read()
    assert len(data) == controls.size, (len(data), controls.size)
    json.loads(data)

    # With authentication on, the reviewer recorded is the caller: the body names nobody.
    decision = ApprovalBody(decision=Verdict.APPROVE, comment="generated-client check")
    decided = expect(decide_run.sync(run_id, client=client, body=decision), DecisionResponse, "decideRun")
    assert decided.decision == Verdict.APPROVE, decided
    record = expect(get_decision.sync(run_id, client=client), DecisionRecord, "getDecision")
    assert record.reviewer == "key:client-flow", record
    print(f"generated client: profile -> request -> run {run_id} -> {len(infos)} artifacts -> approval: ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
