"""`likewise serve` records its public URL; `likewise users create` run beside it, without
LIKEWISE_DOMAIN in its environment (as the README's first steps do), mints the same ids."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.instances import LiveInstance
from tests.support.tls import make_local_ca

ACTIVITY_JSON = {"Accept": "application/activity+json"}
CREATE_ANN = ("users", "create", "ann", "--email", "ann@example.org", "--password", "pw-123456")


def _bare_cli(
    instance: LiveInstance, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`likewise …` from another shell: the data directory and database, and `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIKEWISE_")}
    environment.update(LIKEWISE_DATABASE_URL=instance.database_url, **(env or {}))
    command = [sys.executable, "-m", "server.cli", *args, "--data", str(instance.data_dir)]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)


def _create_ann(instance: LiveInstance) -> str:
    created = _bare_cli(instance, *CREATE_ANN)
    assert created.returncode == 0, created.stderr
    return created.stdout


def test_the_readme_steps_give_the_served_address(instances: Callable[..., LiveInstance]) -> None:
    instance = instances()  # not on port 8000, the address a CLI assumed before
    assert f"log in at {instance.base_url}/login" in _create_ann(instance)
    actor = httpx.get(f"{instance.base_url}/users/ann", headers=ACTIVITY_JSON)
    assert actor.status_code == 200
    assert actor.json()["id"] == f"{instance.base_url}/users/ann"
    assert actor.json()["inbox"] == f"{instance.base_url}/users/ann/inbox"
    assert f'public_url = "{instance.base_url}"' in (instance.data_dir / "config.toml").read_text()


def test_users_created_beside_an_https_serve_get_https_ids(
    instances: Callable[..., LiveInstance], tmp_path: Path
) -> None:
    ca, cert, key = make_local_ca(tmp_path, ["127.0.0.1"])
    instance = instances(
        args=["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
        scheme="https",
        verify=str(ca),
    )
    trust = ssl.create_default_context(cafile=str(ca))
    assert f"log in at {instance.base_url}/login" in _create_ann(instance)
    token = _bare_cli(instance, "tokens", "create", "ann").stdout.strip()
    with httpx.Client(base_url=instance.base_url, verify=trust) as client:
        actor = client.get("/users/ann", headers=ACTIVITY_JSON).json()
        assert actor["id"] == f"https://{instance.domain}/users/ann"
        posted = client.post(
            "/api/v1/statuses",
            json={"status": "hello"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert posted.status_code == 200, posted.text
        assert posted.json()["uri"].startswith(f"https://{instance.domain}/users/ann/statuses/")


def test_a_conflicting_domain_or_scheme_is_refused(
    instances: Callable[..., LiveInstance], tmp_path: Path
) -> None:
    ca, cert, key = make_local_ca(tmp_path, ["127.0.0.1"])
    tls = ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    instance = instances(args=tls, scheme="https", verify=str(ca))
    elsewhere = _bare_cli(instance, *CREATE_ANN, env={"LIKEWISE_DOMAIN": "likewise.example"})
    assert elsewhere.returncode == 1
    assert f"public URL is https://{instance.domain}" in elsewhere.stderr
    assert "LIKEWISE_DOMAIN (or domain in config.toml) is likewise.example" in elsewhere.stderr
    assert "edit public_url in" in elsewhere.stderr
    instance.stop()
    # Served again without the certificate: http where the ids say https.
    plain = instance.cli("serve", "--port", str(instance.port), check=False)
    assert plain.returncode == 1
    assert "without --ssl-certfile and --ssl-keyfile" in plain.stderr
    assert "Traceback" not in plain.stderr
    # And with them, as before: it runs.
    instance.start(verify=str(ca))
    assert "ann" not in _bare_cli(instance, "users", "list").stdout  # nothing was created
