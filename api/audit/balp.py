"""IHE BALP (Basic Audit Log Patterns) vocabulary and the pattern each recorded action
follows (pure data): event type, subtype, action code and which way the data flowed.

Read-like interactions (read, vread, capabilities, exports and their downloads, auditor
reads) send data to the client: the client is the DICOM "Destination Role ID" and the server
the "Source Role ID", as BALP's Read profile has it. Queries and writes flow the other way
(BALP Query, Create, Update, Delete): the client is the Source Role ID. A bulk export
kick-off is DICOM's Export message (110106), whose action is R (PS3.15 A.5.3.6).

The user's agent type says how the user took part (BALP UserAgentTypesVS): the information
recipient (IRCP) of reads and queries, the author (AUT) of a create or update, the
informant (INF) of a delete; PAT besides when the user is the patient.
"""

from dataclasses import dataclass
from typing import Any

AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ROLE_CLASS = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
BALP_CS = "https://profiles.ihe.net/ITI/BALP/CodeSystem"
BALP_SD = "https://profiles.ihe.net/ITI/BALP/StructureDefinition"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
JTI_URN = "urn:ietf:params:oauth:jti:"  # BALP's agent.policy form of an OAuth jti
# This server's own namespace (the one `patient-flags` already uses).
NS = "http://fhir-evidence.example"
ACTION_SYSTEM = f"{NS}/CodeSystem/action"
REASON_SYSTEM = f"{NS}/CodeSystem/reason"
DECISION_EXTENSION = f"{NS}/StructureDefinition/access-decision"
EVIDENCE_EXTENSION = f"{NS}/StructureDefinition/evidence-seal"
PATIENT_PSEUDONYM = f"{NS}/pseudonym/patient"
RESOURCE_PSEUDONYM = f"{NS}/pseudonym/resource"
JTI_HASH = f"{NS}/pseudonym/jti-sha256"
CLIENT_ADDRESS_PSEUDONYM = f"{NS}/pseudonym/client-address"
CLIENT_ADDRESS_EXTENSION = f"{NS}/StructureDefinition/client-address-pseudonym"
FHIR_USER_EXTENSION = f"{NS}/StructureDefinition/fhir-user"


def coding(system: str, code: str, display: str = "") -> dict[str, Any]:
    return {"system": system, "code": code, **({"display": display} if display else {})}


REST = coding(AUDIT_EVENT_TYPE, "rest", "Restful Operation")
EXPORT = coding(DCM, "110106", "Export")
AUDIT_LOG_USED = coding(DCM, "110101", "Audit Log Used")
APPLICATION_ACTIVITY = coding(DCM, "110100", "Application Activity")
SOURCE_ROLE = coding(DCM, "110153", "Source Role ID")
DESTINATION_ROLE = coding(DCM, "110152", "Destination Role ID")
APPLICATION = coding(DCM, "110150", "Application")
INFORMATION_RECIPIENT = coding(PARTICIPATION, "IRCP", "information recipient")
AUTHOR = coding(PARTICIPATION, "AUT", "author")
INFORMANT = coding(PARTICIPATION, "INF", "informant")
CUSTODIAN = coding(PROVENANCE_PARTICIPANT, "custodian", "Custodian")
PATIENT_USER = coding(ROLE_CLASS, "PAT", "patient")
OAUTH_USER = coding(f"{BALP_CS}/UserAgentTypes", "UserOauthAgent", "User OAuth Agent participant")
TRANSACTION = coding(f"{BALP_CS}/BasicAuditEntityType", "XrequestId")
PERSON = coding(ENTITY_TYPE, "1", "Person")
SYSTEM_OBJECT = coding(ENTITY_TYPE, "2", "System Object")
OTHER_OBJECT = coding(ENTITY_TYPE, "4", "Other")
PATIENT_ROLE = coding(OBJECT_ROLE, "1", "Patient")
DOMAIN_RESOURCE = coding(OBJECT_ROLE, "4", "Domain Resource")
QUERY_ROLE = coding(OBJECT_ROLE, "24", "Query")
APPLICATION_SERVER = coding(SOURCE_TYPE, "4", "Application Server")


@dataclass(frozen=True, slots=True)
class Pattern:
    type: dict[str, Any]
    subtype: str  # restful-interaction code, "" for none
    action: str  # C R U D E
    to_client: bool  # data flowed to the client (read-like)


_PATTERNS: dict[str, Pattern] = {
    "read": Pattern(REST, "read", "R", True),
    "vread": Pattern(REST, "vread", "R", True),
    "search": Pattern(REST, "search-type", "E", False),
    "create": Pattern(REST, "create", "C", False),
    "update": Pattern(REST, "update", "U", False),
    "delete": Pattern(REST, "delete", "D", False),
    "metadata": Pattern(REST, "capabilities", "R", True),
    "smart-configuration": Pattern(REST, "", "R", True),
    "export": Pattern(EXPORT, "operation", "R", True),
    "export.status": Pattern(REST, "operation", "R", True),
    "export.cancel": Pattern(REST, "operation", "D", False),
    "export.download": Pattern(EXPORT, "", "R", True),
    "detection.rules": Pattern(APPLICATION_ACTIVITY, "", "E", False),
}
_BY_METHOD = {"GET": "R", "HEAD": "R", "POST": "E", "PUT": "U", "PATCH": "U", "DELETE": "D"}


def pattern_for(action: str, method: str) -> Pattern:
    known = _PATTERNS.get(action)
    if known is not None:
        return known
    if action.startswith("audit."):
        return Pattern(AUDIT_LOG_USED, "", "R" if method == "GET" else "E", True)
    return Pattern(REST, "", _BY_METHOD.get(method, "E"), method in {"GET", "HEAD"})


_USER_ROLES = {"C": AUTHOR, "U": AUTHOR, "D": INFORMANT}


def user_roles(action_code: str, fhir_user: str) -> list[dict[str, Any]]:
    """BALP's user agent types for how the user took part, PAT added for a patient user."""
    roles = [_USER_ROLES.get(action_code, INFORMATION_RECIPIENT)]
    if fhir_user.rpartition("/")[0].rpartition("/")[2] == "Patient":
        roles.append(PATIENT_USER)
    return roles


def jti_policy(jti_hash: str) -> str:
    """BALP's `agent.policy` for the token: the jti URN, holding the evidence's hash of the
    jti (the first 128 bits of its SHA-256, hex) since the jti itself is never kept."""
    return f"{JTI_URN}sha256:{jti_hash}"
