package fhirevidence.interop;

import static fhirevidence.interop.StepReporter.check;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.SearchStyleEnum;
import ca.uhn.fhir.rest.api.SearchTotalModeEnum;
import ca.uhn.fhir.rest.api.SummaryEnum;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.interceptor.BearerTokenAuthInterceptor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.Enumerations.FHIRVersion;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Resource;

/**
 * Drives a fhir-evidence server with HAPI FHIR's generic client (R4), the way an integrator's
 * Java application would, and prints one JSON line per step (see {@link StepReporter}).
 *
 * <p>Environment: FHIR_BASE_URL (".../fhir"), FHIR_TOKEN (system scopes for every type plus
 * export), FHIR_NARROW_TOKEN (a token without Observation scopes, for the 403). Exit status 0
 * when every step passed, 1 otherwise, 2 on a usage error.
 *
 * <p>The reads and searches are here, searches with typed parameters in {@link
 * SearchParameterSteps}; writes, errors and export in {@link WriteAndErrorSteps}.
 */
public final class HapiClientScenario {
  static final String SUBSETTED_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

  final FhirContext context;
  final String baseUrl;
  final IGenericClient client;
  final SentRequests sent = new SentRequests();
  String patientId;
  String patientVersion;

  HapiClientScenario(FhirContext context, String baseUrl, String token) {
    this.context = context;
    this.baseUrl = baseUrl;
    this.client = newClient(token);
  }

  IGenericClient newClient(String token) {
    IGenericClient generic = context.newRestfulGenericClient(baseUrl);
    generic.registerInterceptor(new BearerTokenAuthInterceptor(token));
    generic.registerInterceptor(sent);
    return generic;
  }

  public static void main(String[] args) {
    String baseUrl = System.getenv("FHIR_BASE_URL");
    String token = System.getenv("FHIR_TOKEN");
    String narrowToken = System.getenv("FHIR_NARROW_TOKEN");
    if (baseUrl == null || token == null || narrowToken == null) {
      System.err.println("set FHIR_BASE_URL, FHIR_TOKEN and FHIR_NARROW_TOKEN");
      System.exit(2);
    }
    FhirContext context = FhirContext.forR4();
    context.getRestfulClientFactory().setSocketTimeout(60_000);
    HapiClientScenario scenario = new HapiClientScenario(context, baseUrl, token);
    WriteAndErrorSteps writes = new WriteAndErrorSteps(scenario, narrowToken);
    StepReporter steps = new StepReporter(System.out);
    steps.run("capabilities", scenario::capabilities);
    steps.run("search_paging", scenario::searchPaging);
    steps.run("read", scenario::read);
    steps.run("vread", scenario::vread);
    steps.run("search_include", scenario::searchInclude);
    steps.run("search_sort", scenario::searchSort);
    steps.run("search_elements", scenario::searchElements);
    steps.run("search_summary_count", scenario::searchSummaryCount);
    steps.run("search_post", scenario::searchPost);
    steps.run("format_and_pretty", scenario::formatAndPretty);
    new SearchParameterSteps(scenario).runAll(steps);
    writes.runAll(steps);
    System.exit(steps.failures() == 0 ? 0 : 1);
  }

  String capabilities() throws Exception {
    CapabilityStatement statement =
        client.capabilities().ofType(CapabilityStatement.class).execute();
    check(statement.getFhirVersion() == FHIRVersion._4_0_1, "fhirVersion 4.0.1");
    List<String> types = new ArrayList<>();
    statement.getRestFirstRep().getResource().forEach(r -> types.add(r.getType()));
    check(types.contains("Patient") && types.contains("Observation"), "Patient and Observation");
    return "fhirVersion 4.0.1, types " + types + "; Accept sent: " + sent.lastHeader("Accept");
  }

  /** Every Patient by `next` links (loadPage().next) with _total=accurate: none twice. */
  String searchPaging() throws Exception {
    Bundle page = client.search().forResource(Patient.class).count(50)
        .totalMode(SearchTotalModeEnum.ACCURATE).returnBundle(Bundle.class).execute();
    String firstRequest = sent.lastLine();
    int total = page.getTotal();
    Set<String> ids = new HashSet<>();
    int pages = 0;
    int entries = 0;
    while (true) {
      pages++;
      for (Bundle.BundleEntryComponent entry : page.getEntry()) {
        entries++;
        ids.add(entry.getResource().getIdElement().getIdPart());
      }
      if (page.getLink(Bundle.LINK_NEXT) == null) {
        break;
      }
      check(pages < 100, "fewer than 100 pages");
      page = client.loadPage().next(page).execute();
    }
    check(pages >= 2, "more than one page (got " + pages + ")");
    check(entries == ids.size(), entries + " entries, " + ids.size() + " distinct");
    check(ids.size() == total, ids.size() + " patients paged, total says " + total);
    patientId = ids.stream().sorted().findFirst().orElseThrow();
    return total + " patients in " + pages + " pages; first request " + firstRequest;
  }

  String read() throws Exception {
    Patient patient = client.read().resource(Patient.class).withId(patientId).execute();
    check(patient.getIdElement().getIdPart().equals(patientId), "the id asked for");
    patientVersion = patient.getIdElement().getVersionIdPart();
    check(patientVersion != null, "a version on the id (from meta or ETag)");
    check(patientVersion.equals(patient.getMeta().getVersionId()), "meta.versionId = id version");
    return "Patient/" + patientId + " version " + patientVersion;
  }

  String vread() throws Exception {
    Patient patient = client.read().resource(Patient.class)
        .withIdAndVersion(patientId, patientVersion).execute();
    check(patient.getIdElement().getIdPart().equals(patientId), "the id asked for");
    check(patientVersion.equals(patient.getMeta().getVersionId()), "the version asked for");
    return sent.lastLine();
  }

  /** Observations with their patients (_include=Observation:patient). */
  String searchInclude() throws Exception {
    Bundle bundle = client.search().forResource(Observation.class)
        .include(Observation.INCLUDE_PATIENT).count(10).returnBundle(Bundle.class).execute();
    Set<String> referenced = new HashSet<>();
    Set<String> included = new HashSet<>();
    int matches = 0;
    int resolved = 0;
    for (Bundle.BundleEntryComponent entry : bundle.getEntry()) {
      Resource resource = entry.getResource();
      if (entry.getSearch().getMode() == Bundle.SearchEntryMode.INCLUDE) {
        check(resource instanceof Patient, "only Patients included, got " + resource.fhirType());
        included.add("Patient/" + resource.getIdElement().getIdPart());
      } else {
        check(resource instanceof Observation, "matches are Observations");
        Observation observation = (Observation) resource;
        matches++;
        referenced.add(observation.getSubject().getReferenceElement().toUnqualifiedVersionless().getValue());
        if (observation.getSubject().getResource() != null) {
          resolved++;
        }
      }
    }
    check(matches > 0, "some Observations");
    check(!included.isEmpty(), "some included Patients");
    check(referenced.containsAll(included), "included " + included + " referenced by the matches");
    return matches + " Observations, " + included.size() + " Patients included; "
        + resolved + " subject references resolved by HAPI's parser";
  }

  String searchSort() throws Exception {
    Bundle bundle = client.search().forResource(Patient.class)
        .sort().descending(Patient.BIRTHDATE).count(30).returnBundle(Bundle.class).execute();
    String previous = null;
    int dated = 0;
    for (Bundle.BundleEntryComponent entry : bundle.getEntry()) {
      Patient patient = (Patient) entry.getResource();
      if (!patient.hasBirthDate()) {
        continue;
      }
      String birthDate = patient.getBirthDateElement().getValueAsString();
      check(previous == null || previous.compareTo(birthDate) >= 0,
          "birth dates descending: " + previous + " before " + birthDate);
      previous = birthDate;
      dated++;
    }
    check(dated >= 2, "at least two dated patients");
    return dated + " patients, birth dates descending; " + sent.lastLine();
  }

  /** _elements=gender: only that (and the mandatory elements), tagged SUBSETTED. */
  String searchElements() throws Exception {
    Bundle bundle = client.search().forResource(Patient.class).elementsSubset("gender")
        .count(5).returnBundle(Bundle.class).execute();
    check(!bundle.getEntry().isEmpty(), "some Patients");
    for (Bundle.BundleEntryComponent entry : bundle.getEntry()) {
      Patient patient = (Patient) entry.getResource();
      check(!patient.hasName() && !patient.hasBirthDate(), "no name or birthDate");
      check(patient.getMeta().getTag(SUBSETTED_SYSTEM, "SUBSETTED") != null, "SUBSETTED tag");
    }
    return bundle.getEntry().size() + " Patients subsetted; " + sent.lastLine();
  }

  String searchSummaryCount() throws Exception {
    Bundle bundle = client.search().forResource(Patient.class).summaryMode(SummaryEnum.COUNT)
        .returnBundle(Bundle.class).execute();
    check(bundle.getEntry().isEmpty(), "no entries");
    check(bundle.getTotal() > 0, "a total");
    return "total " + bundle.getTotal() + "; " + sent.lastLine();
  }

  /** POST Patient/_search with a form body. */
  String searchPost() throws Exception {
    Bundle bundle = client.search().forResource(Patient.class)
        .where(Patient.GENDER.exactly().code("female")).count(5)
        .usingStyle(SearchStyleEnum.POST).returnBundle(Bundle.class).execute();
    check(!bundle.getEntry().isEmpty(), "some female Patients");
    for (Bundle.BundleEntryComponent entry : bundle.getEntry()) {
      check("female".equals(((Patient) entry.getResource()).getGender().toCode()), "female");
    }
    return bundle.getEntry().size() + " Patients; " + sent.lastLine();
  }

  /** A client told to speak JSON sends _format=json; pretty printing sends _pretty=true. */
  String formatAndPretty() throws Exception {
    IGenericClient jsonClient = newClient(System.getenv("FHIR_TOKEN"));
    jsonClient.setEncoding(EncodingEnum.JSON);
    jsonClient.setPrettyPrint(true);
    Patient patient = jsonClient.read().resource(Patient.class).withId(patientId).execute();
    check(patient.getIdElement().getIdPart().equals(patientId), "the patient read");
    String readLine = sent.lastLine();
    Bundle bundle = jsonClient.search().forResource(Patient.class).count(2)
        .returnBundle(Bundle.class).execute();
    check(!bundle.getEntry().isEmpty(), "some Patients");
    return readLine + " and " + sent.lastLine() + "; Accept " + sent.lastHeader("Accept");
  }
}
