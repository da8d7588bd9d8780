"""A partner link's mode confirmed from the IE assessment (`centre.assessment.store`) is the mode
the centre runs from its next start, where the partner's [[partners]] entry has what that mode
needs; otherwise the configured mode stays and the start says why."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from centre.assessment.classify import PairClass
from centre.assessment.store import record_decision
from centre.assessment.thresholds import DEFAULTS_FILE, Level, load_thresholds
from centre.config import CentreConfig
from centre.service import CentreService
from provisioning.identity.fleet import Fleet
from tests.centre.conftest import CENTRE, KG_CENTRE


def config(fleet: Fleet, url: str, root: Path, *, with_bundles: bool) -> CentreConfig:
    partner: dict[str, object] = {
        "country": "KG", "centre": KG_CENTRE, "mode": "cie", "host": "127.0.0.1",
        "port": 1, "ca_file": fleet.ca_bundle,
    }  # fmt: skip
    if with_bundles:
        partner |= {"bundle_out": root / "out", "bundle_in": root / "in"}
    return CentreConfig.model_validate({
        "centre": {"id": CENTRE, "database": url},
        "identity": {"identity_dir": fleet.nodes[CENTRE], "trust_store": fleet.trust_store},
        "partners": [partner],
    })  # fmt: skip


def confirm_sie(service: CentreService) -> None:
    pair = PairClass("KZ", "KG", Level.SIE, ())
    with service.engine.begin() as conn:
        record_decision(conn, pair, "KG", Level.SIE, "cie", load_thresholds(DEFAULTS_FILE),
                        "olga", "2019 assessment")  # fmt: skip


@pytest.mark.parametrize("with_bundles", [True, False])
def test_the_next_start_follows_the_confirmed_mode_where_the_config_allows(
    database_url: str, fleet: Fleet, tmp_path: Path, with_bundles: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    settings = config(fleet, database_url, tmp_path, with_bundles=with_bundles)
    first = CentreService.build(settings)
    assert first.config.partners[0].mode == "cie"
    confirm_sie(first)
    first.engine.dispose()
    with caplog.at_level(logging.INFO, logger="centre.link_modes"):
        again = CentreService.build(settings)
    try:
        expected = "sie" if with_bundles else "cie"
        assert again.config.partners[0].mode == expected
        assert settings.partners[0].mode == "cie"  # the file's config is left as it was
        outcome = next(r for r in caplog.records if r.getMessage() == "centre.link_mode")
        text = str(getattr(outcome, "outcome", ""))
        assert text.startswith("followed" if with_bundles else "kept cie")
    finally:
        again.engine.dispose()
