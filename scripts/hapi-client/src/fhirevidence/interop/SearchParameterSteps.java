package fhirevidence.interop;

import static fhirevidence.interop.StepReporter.check;

import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.param.DateRangeParam;
import java.util.HashSet;
import java.util.Set;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Condition;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;

/** Searches built with HAPI's typed search parameters, encoded as HAPI encodes them. */
final class SearchParameterSteps {
  private static final String LOINC = "http://loinc.org";
  private static final String SYSTOLIC = "8480-6";
  private static final String UCUM = "http://unitsofmeasure.org";

  private final HapiClientScenario scenario;
  private final IGenericClient client;

  SearchParameterSteps(HapiClientScenario scenario) {
    this.scenario = scenario;
    this.client = scenario.client;
  }

  void runAll(StepReporter steps) {
    steps.run("search_typed_parameters", this::typedParameters);
    steps.run("search_string_and_id", this::stringAndId);
    steps.run("search_revinclude", this::revinclude);
  }

  /** Reference, token system|code, token code, date and quantity prefixes, _lastUpdated. */
  String typedParameters() throws Exception {
    String subject = "Patient/" + scenario.patientId;
    Bundle bundle = client.search().forResource(Observation.class)
        .where(Observation.SUBJECT.hasId(subject))
        .and(Observation.CODE.exactly().systemAndCode(LOINC, SYSTOLIC))
        .and(Observation.CATEGORY.exactly().code("vital-signs"))
        .and(Observation.DATE.afterOrEquals().day("2000-01-01"))
        .and(Observation.VALUE_QUANTITY.greaterThan().number(0).andUnits(UCUM, "mm[Hg]"))
        .lastUpdated(new DateRangeParam("2000-01-01", null))
        .returnBundle(Bundle.class).execute();
    String request = scenario.sent.lastLine();
    check(!bundle.getEntry().isEmpty(), "some systolic pressures of " + subject);
    for (Bundle.BundleEntryComponent entry : bundle.getEntry()) {
      Observation observation = (Observation) entry.getResource();
      check(observation.getSubject().getReference().equals(subject), "the subject asked for");
      check(observation.getCode().hasCoding(LOINC, SYSTOLIC), "the code asked for");
    }
    return bundle.getEntry().size() + " Observations; " + request;
  }

  /** family (string, prefix match) and _id with two values (comma = or). */
  String stringAndId() throws Exception {
    Patient known = client.read().resource(Patient.class).withId(scenario.patientId).execute();
    String family = known.getNameFirstRep().getFamily();
    check(family != null, "the patient read has a family name");
    Bundle byFamily = client.search().forResource(Patient.class)
        .where(Patient.FAMILY.matches().value(family)).returnBundle(Bundle.class).execute();
    Set<String> found = new HashSet<>();
    byFamily.getEntry().forEach(e -> found.add(e.getResource().getIdElement().getIdPart()));
    check(found.contains(scenario.patientId), "the patient among those named " + family);
    String familyRequest = scenario.sent.lastLine();
    Bundle byIds = client.search().forResource(Patient.class)
        .where(Patient.RES_ID.exactly().codes(scenario.patientId, "interop-no-such-patient"))
        .returnBundle(Bundle.class).execute();
    check(byIds.getEntry().size() == 1, "one of the two ids exists");
    return familyRequest + " and " + scenario.sent.lastLine();
  }

  /** Patient?_id=x&_revinclude=Condition:patient: the patient and its conditions. */
  String revinclude() throws Exception {
    Bundle bundle = client.search().forResource(Patient.class)
        .where(Patient.RES_ID.exactly().code(scenario.patientId))
        .revInclude(Condition.INCLUDE_PATIENT).returnBundle(Bundle.class).execute();
    int conditions = 0;
    for (Bundle.BundleEntryComponent entry : bundle.getEntry()) {
      if (entry.getSearch().getMode() == Bundle.SearchEntryMode.INCLUDE) {
        check(entry.getResource() instanceof Condition, "only Conditions included");
        String subject = ((Condition) entry.getResource()).getSubject().getReference();
        check(subject.equals("Patient/" + scenario.patientId), "conditions of that patient");
        conditions++;
      }
    }
    check(conditions > 0, "some Conditions included");
    return conditions + " Conditions; " + scenario.sent.lastLine();
  }
}
