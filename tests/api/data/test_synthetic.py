"""Tests for the deterministic synthetic FHIR data generator."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from api.data.synthetic.dataset import dataset_summary, generate_dataset, practitioner_count

Resource = dict[str, Any]
ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
TYPE_ORDER = ["Patient", "CareTeam", "Encounter", "Observation", "Condition", "MedicationRequest"]
PREFIX_BY_TYPE = {
    "CareTeam": "ct",
    "Encounter": "enc",
    "Observation": "obs",
    "Condition": "cond",
    "MedicationRequest": "medrx",
}
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def dataset() -> list[Resource]:
    return generate_dataset()


@pytest.fixture(scope="module")
def by_key(dataset: list[Resource]) -> dict[str, Resource]:
    return {f"{r['resourceType']}/{r['id']}": r for r in dataset}


def _of_type(dataset: list[Resource], resource_type: str) -> list[Resource]:
    return [r for r in dataset if r["resourceType"] == resource_type]


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _labels(resource: Resource) -> set[str]:
    return {c["code"] for c in resource.get("meta", {}).get("security", [])}


def _codes(concept: Resource) -> set[str]:
    return {c["code"] for c in concept.get("coding", [])}


def _dt(value: str) -> datetime.datetime:
    parsed = datetime.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def _canonical(resources: list[Resource]) -> str:
    return json.dumps(resources, sort_keys=True)


# --------------------------------------------------------------------------- determinism


def test_same_arguments_give_identical_json() -> None:
    assert _canonical(generate_dataset(40, seed=7)) == _canonical(generate_dataset(40, seed=7))


def test_default_dataset_is_reproducible(dataset: list[Resource]) -> None:
    assert _canonical(generate_dataset()) == _canonical(dataset)


def test_other_seed_or_date_gives_different_data() -> None:
    base = _canonical(generate_dataset(20, seed=1))
    assert _canonical(generate_dataset(20, seed=2)) != base
    other_date = generate_dataset(20, seed=1, reference_date=datetime.date(2024, 6, 1))
    assert _canonical(other_date) != base


def test_independent_of_hash_seed() -> None:
    """Output must not depend on set/dict hashing order (PYTHONHASHSEED)."""
    code = (
        "import hashlib, json; from api.data.synthetic.dataset import generate_dataset; "
        "print(hashlib.sha256(json.dumps(generate_dataset(20, seed=3), sort_keys=True)"
        ".encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(out.stdout.strip())
    local = hashlib.sha256(_canonical(generate_dataset(20, seed=3)).encode()).hexdigest()
    assert digests == {local}


# --------------------------------------------------------------------------- structure


def test_counts(dataset: list[Resource]) -> None:
    summary = dataset_summary(dataset)
    assert summary["Patient"] == 200
    assert summary["Practitioner"] == practitioner_count(200) == 25
    assert sum(summary.values()) == len(dataset)
    assert summary["CareTeam"] >= 200
    assert 200 <= summary["Encounter"] <= 1000
    assert summary["Observation"] > 3 * summary["Encounter"]
    assert summary["Condition"] > 0 and summary["MedicationRequest"] > 0


def test_small_and_empty_datasets() -> None:
    assert dataset_summary(generate_dataset(0)) == {"Practitioner": 20}
    assert dataset_summary(generate_dataset(16))["Practitioner"] == 20
    assert dataset_summary(generate_dataset(400))["Practitioner"] == 50
    with pytest.raises(ValueError):
        generate_dataset(-1)


def test_per_patient_ranges(dataset: list[Resource]) -> None:
    per_patient: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for resource in dataset:
        if resource["resourceType"] not in ("Practitioner", "Patient"):
            per_patient[resource["subject"]["reference"]][resource["resourceType"]] += 1
    assert len(per_patient) == 200
    for counts in per_patient.values():
        assert 1 <= counts["Encounter"] <= 5
        assert 0 <= counts["Condition"] <= 4
        assert 0 <= counts["MedicationRequest"] <= 4
        assert 1 <= counts["CareTeam"] <= 2
        assert counts["Observation"] >= 5 * counts["Encounter"]


def test_order_puts_referenced_resources_first(dataset: list[Resource]) -> None:
    types = [r["resourceType"] for r in dataset]
    n_prac = types.count("Practitioner")
    assert set(types[:n_prac]) == {"Practitioner"}
    current_patient = None
    last_rank = 0
    for resource in dataset[n_prac:]:
        if resource["resourceType"] == "Patient":
            current_patient, last_rank = resource["id"], 0
            continue
        rank = TYPE_ORDER.index(resource["resourceType"])
        assert rank >= last_rank, resource["id"]
        assert resource["subject"]["reference"] == f"Patient/{current_patient}"
        last_rank = rank


def test_every_reference_resolves_to_an_earlier_resource(dataset: list[Resource]) -> None:
    seen: set[str] = set()
    total = 0
    for resource in dataset:
        for ref in _references(resource):
            assert ref in seen, f"{resource['id']} -> {ref}"
            total += 1
        seen.add(f"{resource['resourceType']}/{resource['id']}")
    assert total > len(dataset)


def test_ids_are_valid_unique_and_patterned(dataset: list[Resource]) -> None:
    keys = [f"{r['resourceType']}/{r['id']}" for r in dataset]
    assert len(keys) == len(set(keys))
    for resource in dataset:
        rid, rtype = resource["id"], resource["resourceType"]
        assert ID_RE.match(rid), rid
        if rtype == "Practitioner":
            assert re.fullmatch(r"prac-\d{4}", rid)
        elif rtype == "Patient":
            assert re.fullmatch(r"pat-\d{5}", rid)
        else:
            number = resource["subject"]["reference"].removeprefix("Patient/pat-")
            assert re.fullmatch(rf"{PREFIX_BY_TYPE[rtype]}-{number}-\d+", rid), rid


def test_repository_owned_meta_is_absent(dataset: list[Resource]) -> None:
    for resource in dataset:
        meta = resource.get("meta", {})
        assert "versionId" not in meta and "lastUpdated" not in meta


# --------------------------------------------------------------------------- content


def test_practitioners(dataset: list[Resource]) -> None:
    npis = set()
    for prac in _of_type(dataset, "Practitioner"):
        assert prac["active"] is True
        assert prac["name"][0]["prefix"] == ["Dr."] and prac["name"][0]["family"]
        ident = prac["identifier"][0]
        assert ident["system"] == "http://hl7.org/fhir/sid/us-npi"
        assert re.fullmatch(r"\d{10}", ident["value"])
        npis.add(ident["value"])
    assert len(npis) == 25


def test_patients_are_varied_and_plausible(dataset: list[Resource]) -> None:
    patients = _of_type(dataset, "Patient")
    names = {(p["name"][0]["given"][0], p["name"][0]["family"]) for p in patients}
    assert len(names) > 150
    assert {p["gender"] for p in patients} >= {"male", "female"}
    for patient in patients:
        assert patient["active"] is True
        assert "1930-01-01" <= patient["birthDate"] <= "2020-12-31"
        assert patient["identifier"][0]["system"] == "http://hospital.example.org/mrn"
        assert patient["telecom"] and patient["address"][0]["postalCode"]


def test_patient_flags_and_restricted_patients(dataset: list[Resource]) -> None:
    tags: dict[str, int] = defaultdict(int)
    restricted = 0
    for patient in _of_type(dataset, "Patient"):
        for tag in patient.get("meta", {}).get("tag", []):
            assert tag["system"] == "http://fhir-evidence.example/patient-flags"
            tags[tag["code"]] += 1
        restricted += "R" in _labels(patient)
    assert tags["vip"] >= 1 and tags["staff"] >= 1
    assert tags["vip"] + tags["staff"] <= 30
    assert 1 <= restricted <= 20


def test_care_teams(dataset: list[Resource], by_key: dict[str, Resource]) -> None:
    teams: dict[str, list[Resource]] = defaultdict(list)
    for team in _of_type(dataset, "CareTeam"):
        teams[team["subject"]["reference"]].append(team)
        assert team["name"] and team["category"] and team["period"]["start"]
        assert team["category"][0]["coding"][0]["code"] in {"LA27976-2", "LA27975-4"}
    with_inactive = 0
    for patient in _of_type(dataset, "Patient"):
        patient_teams = teams[f"Patient/{patient['id']}"]
        active = [t for t in patient_teams if t["status"] == "active"]
        assert len(active) == 1
        members = [p["member"]["reference"] for p in active[0]["participant"]]
        assert 1 <= len(members) <= 3
        assert all(m.startswith("Practitioner/") and m in by_key for m in members)
        assert all(p["role"] for p in active[0]["participant"])
        inactive = [t for t in patient_teams if t["status"] == "inactive"]
        for team in inactive:
            former = {p["member"]["reference"] for p in team["participant"]}
            assert not former & set(members)
            assert team["period"]["end"]
        with_inactive += bool(inactive)
    assert 30 <= with_inactive <= 100


def test_encounters(dataset: list[Resource], by_key: dict[str, Resource]) -> None:
    active_members: dict[str, set[str]] = {}
    for team in _of_type(dataset, "CareTeam"):
        if team["status"] == "active":
            refs = {p["member"]["reference"] for p in team["participant"]}
            active_members[team["subject"]["reference"]] = refs
    reference = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    statuses, classes = set(), set()
    for enc in _of_type(dataset, "Encounter"):
        statuses.add(enc["status"])
        classes.add(enc["class"]["code"])
        assert enc["class"]["system"] == "http://terminology.hl7.org/CodeSystem/v3-ActCode"
        individual = enc["participant"][0]["individual"]["reference"]
        assert individual in active_members[enc["subject"]["reference"]]
        start = _dt(enc["period"]["start"])
        assert reference - datetime.timedelta(days=3 * 365) <= start < reference
        if enc["status"] == "finished":
            assert start < _dt(enc["period"]["end"]) < reference
        else:
            assert "end" not in enc["period"]
    assert statuses == {"finished", "in-progress"}
    assert classes == {"AMB", "IMP", "EMER"}


def test_observation_categories_and_values(dataset: list[Resource]) -> None:
    categories = set()
    ranges = {
        "8867-4": (40, 200),
        "8480-6": (80, 220),
        "8462-4": (40, 130),
        "8310-5": (35, 42),
        "29463-7": (5, 250),
        "8302-2": (60, 210),
        "39156-5": (10, 60),
        "9279-1": (8, 40),
        "2339-0": (40, 400),
    }
    for obs in _of_type(dataset, "Observation"):
        assert obs["status"] == "final" and obs["performer"]
        categories |= _codes(obs["category"][0])
        assert _dt(obs["effectiveDateTime"]) <= _dt(obs["issued"])
        code = obs["code"]["coding"][0]["code"]
        if code in ranges:
            low, high = ranges[code]
            assert low <= obs["valueQuantity"]["value"] <= high, obs["id"]
        assert "valueQuantity" in obs or "valueCodeableConcept" in obs
    assert categories >= {"laboratory", "vital-signs", "social-history"}


def test_clinical_dates_are_consistent(
    dataset: list[Resource], by_key: dict[str, Resource]
) -> None:
    reference = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for cond in _of_type(dataset, "Condition"):
        birth = by_key[cond["subject"]["reference"]]["birthDate"]
        onset, recorded = _dt(cond["onsetDateTime"]), _dt(cond["recordedDate"])
        assert birth <= onset.date().isoformat()
        assert onset < recorded < reference
        if "abatementDateTime" in cond:
            assert recorded < _dt(cond["abatementDateTime"]) < reference
            assert _codes(cond["clinicalStatus"]) == {"resolved"}
    for med in _of_type(dataset, "MedicationRequest"):
        assert _dt(med["authoredOn"]) < reference
        assert med["intent"] == "order" and med["dosageInstruction"][0]["text"]
        assert med["status"] in {"active", "completed", "stopped"}


def test_sensitivity_labels(dataset: list[Resource]) -> None:
    present: set[str] = set()
    for resource in dataset:
        labels = _labels(resource)
        present |= labels
        assert not {"R", "V"} <= labels  # at most one confidentiality code
        rtype = resource["resourceType"]
        if rtype == "Condition":
            code = _codes(resource["code"])
            expected = {"86406008": {"HIV"}, "35489007": {"PSY"}, "7200002": {"SUD", "ETH"}}
            for snomed, wanted in expected.items():
                if snomed in code:
                    assert wanted <= labels, resource["id"]
        if rtype == "Observation" and _codes(resource["code"]) & {"25836-8", "75622-1"}:
            assert "HIV" in labels
        if rtype == "MedicationRequest" and "312938" in _codes(
            resource["medicationCodeableConcept"]
        ):
            assert "PSY" in labels
    assert present >= {"R", "V", "HIV", "PSY", "SUD", "ETH"}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_flags_and_labels_are_guaranteed_in_small_datasets(seed: int) -> None:
    reference_date = datetime.date(2021, 3, 1)
    data = generate_dataset(10, seed=seed, reference_date=reference_date)
    labels = set().union(*(_labels(r) for r in data))
    assert labels >= {"R", "V", "HIV", "PSY", "SUD", "ETH"}
    tags = {t["code"] for r in data for t in r.get("meta", {}).get("tag", [])}
    assert tags == {"vip", "staff"}
    categories = {
        c["code"] for r in _of_type(data, "Observation") for c in r["category"][0]["coding"]
    }
    assert categories >= {"laboratory", "vital-signs", "social-history"}
    births = {f"Patient/{p['id']}": p["birthDate"] for p in _of_type(data, "Patient")}
    reference = datetime.datetime(2021, 3, 1, tzinfo=datetime.UTC)
    for enc in _of_type(data, "Encounter"):
        start = _dt(enc["period"]["start"])
        assert reference - datetime.timedelta(days=3 * 365) <= start < reference
        assert births[enc["subject"]["reference"]] < start.date().isoformat()


# --------------------------------------------------------------------------- FHIR validation


def _validate(resources: list[Resource]) -> None:
    for resource in resources:
        model = get_fhir_model_class(resource["resourceType"])
        model.model_validate(resource)


def test_every_resource_of_default_dataset_validates(dataset: list[Resource]) -> None:
    _validate(dataset)


def test_every_resource_of_small_dataset_validates() -> None:
    _validate(generate_dataset(20, seed=99, reference_date=datetime.date(2023, 7, 15)))
