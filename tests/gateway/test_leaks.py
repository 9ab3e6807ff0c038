"""The e2e tier's leak tests, unchanged, against the gateway in front of HAPI: no response
holds a resource the contract's policy forbids, reads answer 200 only when allowed,
includes and redaction as with the stored backends."""

import pytest

from tests.e2e.test_includes import (  # noqa: F401
    test_care_team_includes_practitioners,
    test_include_needs_a_scope_for_the_included_type,
    test_include_patient_once,
    test_patient_token_includes_only_its_own,
    test_revinclude_honours_labels,
)
from tests.e2e.test_no_leaks import (  # noqa: F401
    test_no_response_holds_a_forbidden_resource,
    test_reads_answer_200_only_when_allowed,
)
from tests.e2e.test_redaction import (  # noqa: F401
    test_own_record_is_not_redacted,
    test_patient_contact_details_redacted_by_default,
    test_search_pages_redacted_and_counted,
)

pytestmark = [pytest.mark.hapi, pytest.mark.e2e]
