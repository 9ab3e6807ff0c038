"""Allowed and denied requests through the gateway, each found through the auditor API: the
e2e tier's evidence-flow tests unchanged, against the gateway in front of HAPI (its paging
and cursor tests run in test_cursors.py). Reads, compartments, labels, the accounting of
disclosures, lenient handling and quantity searches are answered from the upstream's data
and recorded as with the stored backends; the evidence chain verifies intact."""

import pytest

from tests.e2e.test_evidence_flow import (  # noqa: F401
    test_allowed_read_is_evidenced,
    test_auditor_api_needs_explicit_auditevent_scope,
    test_auditor_reads_are_audited,
    test_denied_requests_are_evidenced,
    test_lenient_handling_ignores_and_reports,
    test_metadata_is_public_and_declares_smart,
    test_patient_accounting_of_disclosures,
    test_patient_token_reads_only_its_compartment,
    test_quantity_search,
    test_security_labels_withheld_without_clearance,
    test_smart_configuration,
    test_verify_reports_intact,
)

pytestmark = [pytest.mark.hapi, pytest.mark.e2e]
