package fhirevidence.interop;

import ca.uhn.fhir.rest.client.api.IClientInterceptor;
import ca.uhn.fhir.rest.client.api.IHttpRequest;
import ca.uhn.fhir.rest.client.api.IHttpResponse;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Remembers what the client last sent (method, URL, headers), so steps can report it. */
final class SentRequests implements IClientInterceptor {
  private String lastLine = "";
  private Map<String, List<String>> lastHeaders = Map.of();

  @Override
  public void interceptRequest(IHttpRequest request) {
    lastLine = request.getHttpVerbName() + " " + request.getUri();
    Map<String, List<String>> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    headers.putAll(request.getAllHeaders());
    lastHeaders = headers;
  }

  @Override
  public void interceptResponse(IHttpResponse response) {}

  String lastLine() {
    return lastLine;
  }

  /** The last request's header, "" when it had none (never the bearer token). */
  String lastHeader(String name) {
    if (name.equalsIgnoreCase("Authorization")) {
      throw new IllegalArgumentException("the token is not reported");
    }
    List<String> values = lastHeaders.get(name);
    return values == null ? "" : String.join(", ", values);
  }
}
