package fhirevidence.validator;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ValidationOptions;
import ca.uhn.fhir.validation.ValidationResult;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.UnknownCodeSystemWarningValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;

/**
 * The HAPI FHIR instance validator (R4, the base profiles, offline terminology) behind a
 * loopback HTTP port, for fhir-evidence's conformance tests: one JVM serves a whole test run.
 *
 * <pre>
 *   POST /validate[?profile=URL]   body: one FHIR R4 JSON resource
 *                                  answer: 200, the OperationOutcome of the validation (JSON)
 *   GET  /health                   200 "ok" (the port is bound only after the warm-up)
 * </pre>
 *
 * Arguments: PORT_FILE [PORT]. The bound port is written to PORT_FILE once the validator is
 * warm. With -Dwatch.pid=N the JVM exits when process N has gone (a killed test run leaves
 * no validator behind).
 */
public final class ValidatorServer {
  private static final int MAX_BODY = 64 * 1024 * 1024;

  private final FhirContext context;
  private final ValidationSupportChain chain;
  private final FhirValidator validator;

  private ValidatorServer() {
    context = FhirContext.forR4();
    // Offline terminology: the base R4 code systems and value sets (DefaultProfile), the
    // common external systems HAPI knows without a server (UCUM, MIME types, languages,
    // countries...), expansion in memory; a code system nobody here knows (SNOMED CT, LOINC,
    // a local one) is a warning, not an error: there is no terminology server to ask.
    UnknownCodeSystemWarningValidationSupport unknownSystems =
        new UnknownCodeSystemWarningValidationSupport(context);
    unknownSystems.setNonExistentCodeSystemSeverity(IValidationSupport.IssueSeverity.WARNING);
    chain =
        new ValidationSupportChain(
            new DefaultProfileValidationSupport(context),
            new CommonCodeSystemsTerminologyService(context),
            new InMemoryTerminologyServerValidationSupport(context),
            new SnapshotGeneratingValidationSupport(context),
            unknownSystems);
    FhirInstanceValidator module = new FhirInstanceValidator(chain);
    module.setAnyExtensionsAllowed(true);
    // A profile named in meta.profile that is not shipped offline (IHE BALP, say) is a
    // warning ("not checked"); one asked for with ?profile= must be known (see validate).
    module.setErrorForUnknownProfiles(false);
    validator = context.newValidator();
    validator.registerValidatorModule(module);
  }

  private String validate(String body, String profile) {
    ValidationOptions options = new ValidationOptions();
    if (profile != null && !profile.isEmpty()) {
      if (chain.fetchStructureDefinition(profile) == null) {
        return unknownProfile(profile);
      }
      options.addProfile(profile);
    }
    ValidationResult result = validator.validateWithResult(body, options);
    return context.newJsonParser().encodeResourceToString(result.toOperationOutcome());
  }

  private String unknownProfile(String profile) {
    org.hl7.fhir.r4.model.OperationOutcome outcome = new org.hl7.fhir.r4.model.OperationOutcome();
    outcome
        .addIssue()
        .setSeverity(org.hl7.fhir.r4.model.OperationOutcome.IssueSeverity.FATAL)
        .setCode(org.hl7.fhir.r4.model.OperationOutcome.IssueType.NOTSUPPORTED)
        .setDiagnostics("Profile " + profile + " is unknown to this validator (offline: base R4)");
    return context.newJsonParser().encodeResourceToString(outcome);
  }

  /** Loads the structure definitions, value sets and FHIRPath engine before serving. */
  private void warmUp() {
    String[] samples = {
      "{\"resourceType\":\"Patient\",\"id\":\"w\",\"gender\":\"female\",\"birthDate\":\"1970-01-01\","
          + "\"name\":[{\"family\":\"W\"}],\"telecom\":[{\"system\":\"phone\",\"value\":\"1\"}]}",
      "{\"resourceType\":\"Observation\",\"id\":\"w\",\"status\":\"final\",\"code\":{\"coding\":"
          + "[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},\"subject\":{\"reference\":"
          + "\"Patient/w\"},\"valueQuantity\":{\"value\":1,\"unit\":\"/min\",\"system\":"
          + "\"http://unitsofmeasure.org\",\"code\":\"/min\"}}",
      "{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"total\":1,\"link\":[{\"relation\":"
          + "\"self\",\"url\":\"http://x/fhir/Patient\"}],\"entry\":[{\"fullUrl\":"
          + "\"http://x/fhir/Patient/w\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"w\"},"
          + "\"search\":{\"mode\":\"match\"}}]}",
      "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":"
          + "\"not-found\",\"diagnostics\":\"x\"}]}",
      "{\"resourceType\":\"AuditEvent\",\"type\":{\"system\":"
          + "\"http://terminology.hl7.org/CodeSystem/audit-event-type\",\"code\":\"rest\"},"
          + "\"recorded\":\"2024-01-01T00:00:00Z\",\"agent\":[{\"requestor\":true}],"
          + "\"source\":{\"observer\":{\"display\":\"x\"}}}",
    };
    for (String sample : samples) {
      validate(sample, null);
    }
  }

  private void handleValidate(HttpExchange exchange) throws IOException {
    try {
      if (!"POST".equals(exchange.getRequestMethod())) {
        respond(exchange, 405, "text/plain", "POST a FHIR JSON resource");
        return;
      }
      String body;
      try (InputStream in = exchange.getRequestBody()) {
        byte[] bytes = in.readNBytes(MAX_BODY + 1);
        if (bytes.length > MAX_BODY) {
          respond(exchange, 413, "text/plain", "body too large");
          return;
        }
        body = new String(bytes, StandardCharsets.UTF_8);
      }
      String answer = validate(body, queryParameter(exchange, "profile"));
      respond(exchange, 200, "application/fhir+json", answer);
    } catch (RuntimeException e) {
      respond(exchange, 500, "text/plain", "validator failed: " + e);
    }
  }

  private static String queryParameter(HttpExchange exchange, String name) {
    String query = exchange.getRequestURI().getRawQuery();
    if (query == null) {
      return null;
    }
    for (String pair : query.split("&")) {
      int eq = pair.indexOf('=');
      if (eq > 0 && pair.substring(0, eq).equals(name)) {
        return URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      }
    }
    return null;
  }

  private static void respond(HttpExchange exchange, int status, String type, String text)
      throws IOException {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type + "; charset=utf-8");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  private static void exitWhenGone(long pid) {
    Thread watcher =
        new Thread(
            () -> {
              while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                try {
                  Thread.sleep(2000);
                } catch (InterruptedException e) {
                  return;
                }
              }
              System.exit(0);
            },
            "watch-pid");
    watcher.setDaemon(true);
    watcher.start();
  }

  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: ValidatorServer PORT_FILE [PORT]");
      System.exit(2);
    }
    String watched = System.getProperty("watch.pid", "");
    if (!watched.isEmpty()) {
      exitWhenGone(Long.parseLong(watched));
    }
    long began = System.nanoTime();
    ValidatorServer server = new ValidatorServer();
    server.warmUp();
    int port = args.length > 1 ? Integer.parseInt(args[1]) : 0;
    HttpServer http =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
    http.createContext("/validate", server::handleValidate);
    http.createContext("/health", exchange -> respond(exchange, 200, "text/plain", "ok"));
    // One validation at a time: the validator's caches are shared, the tests ask in sequence.
    http.setExecutor(Executors.newSingleThreadExecutor());
    http.start();
    Path portFile = Path.of(args[0]);
    Path partial = portFile.resolveSibling(portFile.getFileName() + ".tmp");
    Files.writeString(partial, Integer.toString(http.getAddress().getPort()));
    Files.move(partial, portFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    System.out.printf(
        "hl7-validator: HAPI FHIR %s validator ready on 127.0.0.1:%d in %.1f s%n",
        ca.uhn.fhir.util.VersionUtil.getVersion(),
        http.getAddress().getPort(),
        (System.nanoTime() - began) / 1e9);
  }
}
