"""Terminology tables (systems, SNOMED / LOINC / RxNorm codes) for synthetic data."""

from __future__ import annotations

from dataclasses import dataclass

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
MRN_SYSTEM = "http://hospital.example.org/mrn"
PATIENT_FLAGS = "http://fhir-evidence.example/patient-flags"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
COND_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COND_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
DEGREE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0360"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str


# Security labels, keyed by code.  R/V are confidentiality codes, the rest are
# v3-ActCode information-sensitivity codes.
SECURITY_LABELS: dict[str, Code] = {
    "R": Code(CONFIDENTIALITY, "R", "restricted"),
    "V": Code(CONFIDENTIALITY, "V", "very restricted"),
    "HIV": Code(ACT_CODE, "HIV", "HIV/AIDS information sensitivity"),
    "PSY": Code(ACT_CODE, "PSY", "psychiatry information sensitivity"),
    "SUD": Code(ACT_CODE, "SUD", "substance use disorder information sensitivity"),
    "ETH": Code(ACT_CODE, "ETH", "substance abuse information sensitivity"),
}

PATIENT_TAGS: dict[str, Code] = {
    "vip": Code(PATIENT_FLAGS, "vip", "VIP patient"),
    "staff": Code(PATIENT_FLAGS, "staff", "Staff member"),
}

DEGREES: tuple[Code, ...] = (
    Code(DEGREE_SYSTEM, "MD", "Doctor of Medicine"),
    Code(DEGREE_SYSTEM, "DO", "Doctor of Osteopathy"),
)

PRIMARY_CARE_ROLE = Code(SNOMED, "446050000", "Primary care physician")
SPECIALIST_ROLES: tuple[Code, ...] = (
    Code(SNOMED, "309343006", "Physician"),
    Code(SNOMED, "17561000", "Cardiologist"),
    Code(SNOMED, "61894003", "Endocrinologist"),
    Code(SNOMED, "41672002", "Respiratory physician"),
    Code(SNOMED, "80584001", "Psychiatrist"),
    Code(SNOMED, "45440000", "Rheumatologist"),
)

CARE_TEAM_CATEGORIES: tuple[Code, ...] = (
    Code(LOINC, "LA27976-2", "Encounter-focused care team"),
    Code(LOINC, "LA27975-4", "Event-focused care team"),
)

ENCOUNTER_CLASSES: dict[str, Code] = {
    "AMB": Code(ACT_CODE, "AMB", "ambulatory"),
    "EMER": Code(ACT_CODE, "EMER", "emergency"),
    "IMP": Code(ACT_CODE, "IMP", "inpatient encounter"),
}

ENCOUNTER_TYPES: dict[str, tuple[Code, ...]] = {
    "AMB": (
        Code(SNOMED, "185349003", "Encounter for check up (procedure)"),
        Code(SNOMED, "390906007", "Follow-up encounter (procedure)"),
        Code(SNOMED, "185345009", "Encounter for symptom (procedure)"),
    ),
    "EMER": (Code(SNOMED, "50849002", "Emergency room admission (procedure)"),),
    "IMP": (Code(SNOMED, "32485007", "Hospital admission (procedure)"),),
}

ATTENDER = Code(PARTICIPATION_TYPE, "ATND", "attender")


@dataclass(frozen=True)
class ConditionSpec:
    key: str
    code: str
    display: str
    weight: int
    min_age: int
    chronic: bool
    labels: tuple[str, ...] = ()
    meds: tuple[str, ...] = ()


CONDITIONS: tuple[ConditionSpec, ...] = (
    ConditionSpec(
        "htn", "38341003", "Hypertensive disorder", 20, 25, True, meds=("lisinopril", "amlodipine")
    ),
    ConditionSpec(
        "hld", "55822004", "Hyperlipidemia", 15, 25, True, meds=("atorvastatin", "simvastatin")
    ),
    ConditionSpec("dm2", "44054006", "Diabetes mellitus type 2", 12, 25, True, meds=("metformin",)),
    ConditionSpec("asthma", "195967001", "Asthma", 7, 3, True, meds=("albuterol",)),
    ConditionSpec(
        "sinusitis", "40055000", "Chronic sinusitis", 10, 5, False, meds=("amoxicillin",)
    ),
    ConditionSpec(
        "depression",
        "35489007",
        "Depressive disorder",
        10,
        12,
        False,
        labels=("PSY",),
        meds=("sertraline",),
    ),
    ConditionSpec(
        "copd", "13645005", "Chronic obstructive lung disease", 5, 40, True, meds=("albuterol",)
    ),
    ConditionSpec(
        "ra", "69896004", "Rheumatoid arthritis", 4, 18, True, meds=("ibuprofen", "oxycodone")
    ),
    ConditionSpec("alcoholism", "7200002", "Alcoholism", 3, 16, True, labels=("SUD", "ETH")),
    ConditionSpec(
        "hiv",
        "86406008",
        "Human immunodeficiency virus infection",
        2,
        15,
        True,
        labels=("HIV", "V"),
    ),
)
CONDITIONS_BY_KEY: dict[str, ConditionSpec] = {c.key: c for c in CONDITIONS}


@dataclass(frozen=True)
class MedicationSpec:
    key: str
    code: str
    display: str
    dosage: str
    frequency: int
    as_needed: bool = False
    acute: bool = False
    labels: tuple[str, ...] = ()


MEDICATIONS: dict[str, MedicationSpec] = {
    m.key: m
    for m in (
        MedicationSpec(
            "metformin",
            "860975",
            "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet",
            "Take 1 tablet by mouth once daily with the evening meal",
            1,
        ),
        MedicationSpec(
            "lisinopril",
            "314076",
            "lisinopril 10 MG Oral Tablet",
            "Take 1 tablet by mouth once daily",
            1,
        ),
        MedicationSpec(
            "atorvastatin",
            "617312",
            "atorvastatin 10 MG Oral Tablet",
            "Take 1 tablet by mouth once daily at bedtime",
            1,
        ),
        MedicationSpec(
            "simvastatin",
            "198211",
            "simvastatin 40 MG Oral Tablet",
            "Take 1 tablet by mouth once daily in the evening",
            1,
        ),
        MedicationSpec(
            "amlodipine",
            "197361",
            "amlodipine 5 MG Oral Tablet",
            "Take 1 tablet by mouth once daily",
            1,
        ),
        MedicationSpec(
            "albuterol",
            "745679",
            "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
            "Inhale 2 puffs every 4 to 6 hours as needed for wheezing",
            4,
            as_needed=True,
        ),
        MedicationSpec(
            "sertraline",
            "312938",
            "sertraline 100 MG Oral Tablet",
            "Take 1 tablet by mouth once daily",
            1,
            labels=("PSY",),
        ),
        MedicationSpec(
            "oxycodone",
            "1049621",
            "oxycodone hydrochloride 5 MG Oral Tablet",
            "Take 1 tablet by mouth every 6 hours as needed for severe pain",
            4,
            as_needed=True,
            acute=True,
        ),
        MedicationSpec(
            "ibuprofen",
            "310965",
            "ibuprofen 200 MG Oral Tablet",
            "Take 2 tablets by mouth every 8 hours as needed for pain",
            3,
            as_needed=True,
            acute=True,
        ),
        MedicationSpec(
            "amoxicillin",
            "308192",
            "amoxicillin 500 MG Oral Tablet",
            "Take 1 tablet by mouth three times daily for 10 days",
            3,
            acute=True,
        ),
    )
}
UNLINKED_MEDICATIONS: tuple[str, ...] = ("ibuprofen", "oxycodone", "amoxicillin")

# Deterministic guarantees so that every flag and label exists in any dataset of at
# least ten patients, whatever the seed.
FORCED_TAGS: dict[int, str] = {3: "vip", 5: "staff"}
FORCED_RESTRICTED: frozenset[int] = frozenset({7})
FORCED_CONDITIONS: dict[int, str] = {2: "hiv", 4: "depression", 6: "alcoholism", 7: "htn"}
FORCED_HIV_SCREEN: frozenset[int] = frozenset({9})
