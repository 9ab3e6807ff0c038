package fhirevidence.interop;

import static fhirevidence.interop.StepReporter.check;

import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.server.exceptions.AuthenticationException;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.ForbiddenOperationException;
import ca.uhn.fhir.rest.server.exceptions.PreconditionFailedException;
import ca.uhn.fhir.rest.server.exceptions.ResourceGoneException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import ca.uhn.fhir.rest.server.exceptions.UnprocessableEntityException;
import java.util.List;
import java.util.Map;
import org.hl7.fhir.r4.model.DateType;
import org.hl7.fhir.r4.model.Enumerations.AdministrativeGender;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.Parameters;
import org.hl7.fhir.r4.model.Patient;

/** Create, versioned update, conditional read, delete, error mapping and export kick-off. */
final class WriteAndErrorSteps {
  private final HapiClientScenario scenario;
  private final IGenericClient client;
  private final String narrowToken;
  private String createdId;

  WriteAndErrorSteps(HapiClientScenario scenario, String narrowToken) {
    this.scenario = scenario;
    this.client = scenario.client;
    this.narrowToken = narrowToken;
  }

  void runAll(StepReporter steps) {
    steps.run("create", this::create);
    steps.run("update_if_match", this::updateIfMatch);
    steps.run("update_stale_version_412", this::updateStaleVersion);
    steps.run("read_if_none_match_304", this::readIfNoneMatch);
    steps.run("delete", this::delete);
    steps.run("error_404", this::notFound);
    steps.run("error_401", this::unauthenticated);
    steps.run("error_403", this::forbidden);
    steps.run("error_422", this::unprocessable);
    steps.run("export_kickoff", this::exportKickoff);
  }

  String create() throws Exception {
    Patient patient = new Patient();
    patient.addName().setFamily("Interop").addGiven("Hapi");
    patient.setGender(AdministrativeGender.FEMALE);
    patient.setBirthDateElement(new DateType("1980-02-03"));
    MethodOutcome outcome = client.create().resource(patient).execute();
    String contentType = scenario.sent.lastHeader("Content-Type");
    check(outcome.getResponseStatusCode() == 201, "201, got " + outcome.getResponseStatusCode());
    check(Boolean.TRUE.equals(outcome.getCreated()), "created");
    check("1".equals(outcome.getId().getVersionIdPart()), "version 1 in " + outcome.getId());
    check(outcome.getResource() instanceof Patient, "the created Patient in the body");
    createdId = outcome.getId().getIdPart();
    return "Patient/" + createdId + " (" + outcome.getId().getValue() + "), body sent as " + contentType;
  }

  /** Update of the version just read: HAPI sends If-Match from the id's version. */
  String updateIfMatch() throws Exception {
    Patient current = client.read().resource(Patient.class).withId(createdId).execute();
    check("1".equals(current.getIdElement().getVersionIdPart()), "version 1 read");
    current.setActive(true);
    MethodOutcome outcome = client.update().resource(current).execute();
    String ifMatch = scenario.sent.lastHeader("If-Match");
    check(!ifMatch.isEmpty(), "an If-Match header sent");
    check("2".equals(outcome.getId().getVersionIdPart()), "version 2, got " + outcome.getId());
    return "If-Match " + ifMatch + " -> " + outcome.getId().getValue();
  }

  /** An update naming version 1 of a resource now at version 2: 412, nothing written. */
  String updateStaleVersion() throws Exception {
    Patient stale = new Patient();
    stale.setId(new IdType("Patient", createdId, "1"));
    stale.addName().setFamily("Stale");
    try {
      client.update().resource(stale).execute();
      throw new StepReporter.CheckFailed("the stale update succeeded: " + scenario.sent.lastHeader("If-Match"));
    } catch (PreconditionFailedException expected) {
      String ifMatch = scenario.sent.lastHeader("If-Match");
      check(ifMatch.contains("\"1\""), "If-Match naming version 1 sent, got " + ifMatch);
      String issue = outcomeIssue(expected);
      Patient after = client.read().resource(Patient.class).withId(createdId).execute();
      check("2".equals(after.getMeta().getVersionId()), "still version 2");
      check(after.getNameFirstRep().getFamily().equals("Interop"), "the stale name not written");
      return "If-Match " + ifMatch + " -> 412 " + issue;
    }
  }

  /** ifVersionMatches(current).returnNull(): If-None-Match, 304, null; an old version: the body. */
  String readIfNoneMatch() throws Exception {
    Patient unchanged = client.read().resource(Patient.class).withId(createdId)
        .ifVersionMatches("2").returnNull().execute();
    String sentHeader = scenario.sent.lastHeader("If-None-Match");
    check(unchanged == null, "null (304) for the current version, If-None-Match " + sentHeader);
    Patient changed = client.read().resource(Patient.class).withId(createdId)
        .ifVersionMatches("1").returnNull().execute();
    check(changed != null && "2".equals(changed.getMeta().getVersionId()), "version 2 for an old one");
    return "If-None-Match " + sentHeader + " -> 304; version 1 -> 200";
  }

  String delete() throws Exception {
    MethodOutcome outcome = client.delete().resourceById(new IdType("Patient", createdId)).execute();
    int status = outcome.getResponseStatusCode();
    check(status == 200 || status == 204, "200 or 204, got " + status);
    try {
      client.read().resource(Patient.class).withId(createdId).execute();
      throw new StepReporter.CheckFailed("the deleted Patient is still read");
    } catch (ResourceNotFoundException | ResourceGoneException expected) {
      return "DELETE " + status + "; read afterwards " + expected.getStatusCode() + " "
          + expected.getClass().getSimpleName();
    }
  }

  String notFound() throws Exception {
    try {
      client.read().resource(Patient.class).withId("interop-no-such-patient").execute();
      throw new StepReporter.CheckFailed("a missing Patient was read");
    } catch (ResourceNotFoundException expected) {
      return "404 ResourceNotFoundException " + outcomeIssue(expected);
    }
  }

  String unauthenticated() throws Exception {
    IGenericClient anonymous = scenario.newClient("not-a-token");
    try {
      anonymous.read().resource(Patient.class).withId(scenario.patientId).execute();
      throw new StepReporter.CheckFailed("read with a bad token succeeded");
    } catch (AuthenticationException expected) {
      return "401 AuthenticationException " + outcomeIssue(expected);
    }
  }

  String forbidden() throws Exception {
    IGenericClient narrow = scenario.newClient(narrowToken);
    try {
      narrow.search().forResource(Observation.class).returnBundle(org.hl7.fhir.r4.model.Bundle.class)
          .execute();
      throw new StepReporter.CheckFailed("an Observation search without the scope succeeded");
    } catch (ForbiddenOperationException expected) {
      return "403 ForbiddenOperationException " + outcomeIssue(expected);
    }
  }

  /** An Observation without its required status and code. */
  String unprocessable() throws Exception {
    Observation invalid = new Observation();
    invalid.getSubject().setReference("Patient/" + scenario.patientId);
    try {
      MethodOutcome outcome = client.create().resource(invalid).execute();
      throw new StepReporter.CheckFailed("an invalid Observation was created: " + outcome.getId());
    } catch (UnprocessableEntityException expected) {
      return "422 UnprocessableEntityException " + outcomeIssue(expected);
    }
  }

  /** GET Patient/$export with Prefer: respond-async: 202 and a Content-Location to poll. */
  String exportKickoff() throws Exception {
    MethodOutcome outcome = client.operation().onType(Patient.class).named("$export")
        .withNoParameters(Parameters.class).useHttpGet()
        .withAdditionalHeader("Prefer", "respond-async").returnMethodOutcome().execute();
    check(outcome.getResponseStatusCode() == 202, "202, got " + outcome.getResponseStatusCode());
    String location = header(outcome.getResponseHeaders(), "Content-Location");
    check(location.startsWith(scenario.baseUrl + "/$export-status/"), "status URL, got " + location);
    return "202 Content-Location " + location + "; " + scenario.sent.lastLine();
  }

  private static String header(Map<String, List<String>> headers, String name) {
    for (Map.Entry<String, List<String>> header : headers.entrySet()) {
      if (header.getKey().equalsIgnoreCase(name) && !header.getValue().isEmpty()) {
        return header.getValue().get(0);
      }
    }
    return "";
  }

  /** The error's OperationOutcome as HAPI parsed it: its first issue, or a failed check. */
  private static String outcomeIssue(BaseServerResponseException error) throws Exception {
    check(error.getOperationOutcome() instanceof OperationOutcome,
        "a parsed OperationOutcome (HTTP " + error.getStatusCode() + ")");
    OperationOutcome outcome = (OperationOutcome) error.getOperationOutcome();
    check(outcome.hasIssue(), "an issue in the OperationOutcome");
    OperationOutcome.OperationOutcomeIssueComponent issue = outcome.getIssueFirstRep();
    check(issue.getSeverity() == OperationOutcome.IssueSeverity.ERROR, "severity error");
    return "[" + issue.getCode().toCode() + ": " + issue.getDiagnostics() + "]";
  }
}
