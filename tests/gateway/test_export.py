"""Bulk export in gateway mode: the e2e tier's export tests unchanged, against the gateway in
front of HAPI (the adapter's `scan`: every upstream page judged again, as searches are):
a full export equals what a search shows and withholds labels, clearance lets them out, a
granular scope limits it, `_since`, refusals and bad kick-offs evidenced, jobs private to
their owner, cancel, unknown files, a Group's members only, contact details redacted.
The jobs live in FHIR_EVIDENCE_EXPORT_DIR, which gateway mode requires (the conftest sets
it). Not reused: test_jobs_survive_a_restart, which starts servers of its own on the
stored backend (what it checks, jobs kept in the export directory, is the same code here)."""

import pytest

from tests.e2e.test_export import (  # noqa: F401
    test_bad_kick_off_answers_400,
    test_cancel_removes_the_job,
    test_clearance_lets_labelled_resources_out,
    test_export_redacts_contact_details_without_demographics,
    test_export_without_permission_is_refused_and_evidenced,
    test_full_export_matches_search_withholds_labels_and_is_evidenced,
    test_granular_scope_limits_the_export,
    test_group_export_covers_only_its_members,
    test_group_export_refusals,
    test_kick_off_without_token_is_401,
    test_other_subjects_cannot_see_the_job,
    test_since_in_the_future_exports_nothing,
    test_unknown_file_answers_404,
)

pytestmark = [pytest.mark.hapi, pytest.mark.e2e]
