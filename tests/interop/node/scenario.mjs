// Drives a fhir-evidence server with fhir-kit-client (Node), the way an integrator's
// JavaScript application would, and prints one JSON line {step, ok, detail} per step.
// Environment: FHIR_BASE_URL (".../fhir"), FHIR_TOKEN (system scopes for every type plus
// export), FHIR_NARROW_TOKEN (no Observation scope). Exit 0 when every step passed, else 1.
import { Client, RESPONSE_KEY } from 'fhir-kit-client';

const { FHIR_BASE_URL: baseUrl, FHIR_TOKEN: token, FHIR_NARROW_TOKEN: narrowToken } = process.env;
if (!baseUrl || !token || !narrowToken) {
  console.error('set FHIR_BASE_URL, FHIR_TOKEN and FHIR_NARROW_TOKEN');
  process.exit(2);
}
const client = new Client({ baseUrl, bearerToken: token });
const state = {};
let failures = 0;

function check(condition, whatWasExpected) {
  if (!condition) throw new Error(`check failed: ${whatWasExpected}`);
}

// The error fhir-kit-client throws for an HTTP status, with the OperationOutcome it carries.
async function refused(status, call) {
  try {
    await call();
  } catch (error) {
    check(error.response, `an HTTP error, got ${error}`);
    check(error.response.status === status, `${status}, got ${error.response.status}`);
    if (status === 304) return '304';
    const outcome = error.response.data;
    check(outcome.resourceType === 'OperationOutcome', `an OperationOutcome for ${status}`);
    check(outcome.issue[0].severity === 'error', 'severity error');
    return `${status} [${outcome.issue[0].code}: ${outcome.issue[0].diagnostics}]`;
  }
  throw new Error(`check failed: ${status} expected, the request succeeded`);
}

async function step(name, body) {
  let ok = true;
  let detail;
  try {
    detail = await body();
  } catch (error) {
    ok = false;
    failures += 1;
    detail = String(error && error.message ? error.message : error);
  }
  console.log(JSON.stringify({ step: name, ok, detail }));
}

await step('capabilities', async () => {
  const statement = await client.capabilityStatement();
  check(statement.fhirVersion === '4.0.1', 'fhirVersion 4.0.1');
  return `fhirVersion ${statement.fhirVersion}`;
});

await step('search_paging', async () => {
  let page = await client.search({ resourceType: 'Patient', searchParams: { _count: 50 } });
  const ids = new Set();
  let pages = 0;
  let entries = 0;
  while (page) {
    pages += 1;
    for (const entry of page.entry ?? []) {
      entries += 1;
      ids.add(entry.resource.id);
    }
    check(pages < 100, 'fewer than 100 pages');
    page = await client.nextPage({ bundle: page });
  }
  const counted = await client.search({ resourceType: 'Patient', searchParams: { _summary: 'count' } });
  check(pages >= 2, `more than one page, got ${pages}`);
  check(entries === ids.size && ids.size === counted.total, `${ids.size} paged, total ${counted.total}`);
  state.patientId = [...ids].sort()[0];
  return `${ids.size} patients in ${pages} pages`;
});

await step('read_and_vread', async () => {
  const patient = await client.read({ resourceType: 'Patient', id: state.patientId });
  const { versionId } = patient.meta;
  const same = await client.vread({ resourceType: 'Patient', id: state.patientId, version: versionId });
  check(same.id === state.patientId && same.meta.versionId === versionId, 'the version asked for');
  return `Patient/${state.patientId} version ${versionId}`;
});

await step('search_include_sort_elements', async () => {
  const included = await client.search({
    resourceType: 'Observation',
    searchParams: { _include: 'Observation:patient', _count: 10 },
  });
  const patients = included.entry.filter((e) => e.search.mode === 'include');
  check(patients.length > 0 && patients.every((e) => e.resource.resourceType === 'Patient'), 'Patients included');
  const sorted = await client.search({ resourceType: 'Patient', searchParams: { _sort: 'birthdate', _count: 30 } });
  const births = sorted.entry.map((e) => e.resource.birthDate).filter(Boolean);
  check(births.every((b, i) => i === 0 || births[i - 1] <= b), 'birth dates ascending');
  const subset = await client.search({ resourceType: 'Patient', searchParams: { _elements: 'gender', _count: 5 } });
  check(subset.entry.every((e) => !e.resource.name && e.resource.meta.tag.some((t) => t.code === 'SUBSETTED')), 'subsetted');
  const posted = await client.search({ resourceType: 'Patient', searchParams: { gender: 'female', _count: 5 }, options: { postSearch: true } });
  check(posted.entry.every((e) => e.resource.gender === 'female'), 'POST _search: female only');
  return `${patients.length} Patients included; ${births.length} sorted; ${subset.entry.length} subsetted; POST _search`;
});

await step('create_update_if_match', async () => {
  const created = await client.create({ resourceType: 'Patient', body: { resourceType: 'Patient', name: [{ family: 'Interop' }] } });
  check(created[RESPONSE_KEY].status === 201 && created.meta.versionId === '1', '201, version 1');
  state.createdId = created.id;
  const updated = await client.update({
    resourceType: 'Patient', id: created.id, body: { ...created, active: true }, options: { headers: { 'If-Match': 'W/"1"' } },
  });
  check(updated.meta.versionId === '2', 'version 2');
  return `Patient/${created.id} -> version 2`;
});

await step('update_stale_version_412', async () => refused(412, () => client.update({
  resourceType: 'Patient', id: state.createdId, body: { resourceType: 'Patient', id: state.createdId, active: false },
  options: { headers: { 'If-Match': 'W/"1"' } },
})));

await step('read_if_none_match_304', async () => refused(304, () => client.read({
  resourceType: 'Patient', id: state.createdId, options: { headers: { 'If-None-Match': 'W/"2"' } },
})));

await step('delete', async () => {
  const deleted = await client.delete({ resourceType: 'Patient', id: state.createdId });
  const status = deleted[RESPONSE_KEY].status;
  return `DELETE ${status}; read afterwards ${await refused(404, () => client.read({ resourceType: 'Patient', id: state.createdId }))}`;
});

await step('errors', async () => {
  const anonymous = new Client({ baseUrl, bearerToken: 'not-a-token' });
  const narrow = new Client({ baseUrl, bearerToken: narrowToken });
  return [
    await refused(404, () => client.read({ resourceType: 'Patient', id: 'interop-no-such-patient' })),
    await refused(401, () => anonymous.read({ resourceType: 'Patient', id: state.patientId })),
    await refused(403, () => narrow.search({ resourceType: 'Observation' })),
    await refused(422, () => client.create({ resourceType: 'Observation', body: { resourceType: 'Observation' } })),
  ].join('; ');
});

await step('export_kickoff', async () => {
  const kickoff = await client.operation({
    name: '$export', resourceType: 'Patient', method: 'GET', options: { headers: { Prefer: 'respond-async' } },
  });
  const response = kickoff[RESPONSE_KEY];
  const location = response.headers.get('content-location') ?? '';
  check(response.status === 202, `202, got ${response.status}`);
  check(location.startsWith(`${baseUrl}/$export-status/`), `a status URL, got ${location}`);
  return `202 Content-Location ${location}`;
});

process.exit(failures === 0 ? 0 : 1);
