"""LOINC observation tables (vital signs, labs, social history, surveys)."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.data.synthetic.codes import LOINC, OBS_CATEGORY, SNOMED, Code

CATEGORIES: dict[str, Code] = {
    "vital-signs": Code(OBS_CATEGORY, "vital-signs", "Vital Signs"),
    "laboratory": Code(OBS_CATEGORY, "laboratory", "Laboratory"),
    "social-history": Code(OBS_CATEGORY, "social-history", "Social History"),
    "survey": Code(OBS_CATEGORY, "survey", "Survey"),
}


@dataclass(frozen=True)
class QuantitySpec:
    """A numeric observation: LOINC code, UCUM unit and a plausible value range."""

    key: str
    code: str
    display: str
    unit: str
    low: float
    high: float
    decimals: int = 0
    # condition key -> (low, high) replacing the normal range for affected patients
    disease_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)


VITAL_SIGNS: dict[str, QuantitySpec] = {
    v.key: v
    for v in (
        QuantitySpec("heart_rate", "8867-4", "Heart rate", "/min", 58, 98),
        QuantitySpec(
            "systolic",
            "8480-6",
            "Systolic blood pressure",
            "mm[Hg]",
            104,
            132,
            disease_ranges={"htn": (134, 168)},
        ),
        QuantitySpec(
            "diastolic",
            "8462-4",
            "Diastolic blood pressure",
            "mm[Hg]",
            64,
            84,
            disease_ranges={"htn": (86, 102)},
        ),
        QuantitySpec("temperature", "8310-5", "Body temperature", "Cel", 36.2, 37.3, 1),
        QuantitySpec(
            "resp_rate",
            "9279-1",
            "Respiratory rate",
            "/min",
            12,
            19,
            disease_ranges={"copd": (18, 24)},
        ),
        QuantitySpec("weight", "29463-7", "Body weight", "kg", 0, 0, 1),
        QuantitySpec("height", "8302-2", "Body height", "cm", 0, 0, 1),
        QuantitySpec("bmi", "39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 0, 0, 1),
    )
}

LABS: dict[str, QuantitySpec] = {
    lab.key: lab
    for lab in (
        QuantitySpec(
            "glucose",
            "2339-0",
            "Glucose [Mass/volume] in Blood",
            "mg/dL",
            72,
            108,
            disease_ranges={"dm2": (128, 245)},
        ),
        QuantitySpec(
            "hemoglobin", "718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12.1, 16.8, 1
        ),
        QuantitySpec(
            "creatinine",
            "2160-0",
            "Creatinine [Mass/volume] in Serum or Plasma",
            "mg/dL",
            0.6,
            1.2,
            2,
            disease_ranges={"dm2": (0.8, 1.7), "htn": (0.8, 1.5)},
        ),
        QuantitySpec(
            "hba1c",
            "4548-4",
            "Hemoglobin A1c/Hemoglobin.total in Blood",
            "%",
            4.6,
            5.6,
            1,
            disease_ranges={"dm2": (6.6, 9.8)},
        ),
        QuantitySpec(
            "cholesterol",
            "2093-3",
            "Cholesterol [Mass/volume] in Serum or Plasma",
            "mg/dL",
            140,
            199,
            disease_ranges={"hld": (215, 295)},
        ),
        QuantitySpec(
            "wbc",
            "6690-2",
            "Leukocytes [#/volume] in Blood by Automated count",
            "10*3/uL",
            4.3,
            10.5,
            1,
            disease_ranges={"hiv": (2.8, 6.0)},
        ),
    )
}

HIV_VIRAL_LOAD = QuantitySpec(
    "hiv_viral_load",
    "25836-8",
    "HIV 1 RNA [#/volume] (viral load) in Serum or Plasma by NAA with probe detection",
    "{copies}/mL",
    20,
    48000,
)
HIV_SCREEN = Code(LOINC, "75622-1", "HIV 1 and 2 tests - Meaningful Use set")
HIV_RESULTS: dict[bool, Code] = {
    True: Code(SNOMED, "10828004", "Positive"),
    False: Code(SNOMED, "260385009", "Negative"),
}

PHQ9_TOTAL = QuantitySpec(
    "phq9",
    "44261-6",
    "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
    "{score}",
    0,
    9,
    disease_ranges={"depression": (10, 24)},
)

SMOKING_STATUS = Code(LOINC, "72166-2", "Tobacco smoking status")
SMOKING_VALUES: dict[str, Code] = {
    "never": Code(SNOMED, "266919005", "Never smoked tobacco"),
    "ex": Code(SNOMED, "8517006", "Ex-smoker"),
    "current": Code(SNOMED, "77176002", "Smoker"),
}

ALCOHOL_USE = Code(LOINC, "11331-6", "History of Alcohol use")
ALCOHOL_VALUES: dict[str, Code] = {
    "none": Code(SNOMED, "105542008", "Non-drinker"),
    "occasional": Code(SNOMED, "228276006", "Occasional drinker"),
    "moderate": Code(SNOMED, "43783005", "Moderate drinker"),
    "heavy": Code(SNOMED, "86933000", "Heavy drinker"),
}
