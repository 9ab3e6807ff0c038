package fhirevidence.hapi;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.interceptor.api.IInterceptorService;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.provider.JpaSystemProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.ETagSupportEnum;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;

/**
 * Our upstream FHIR server: HAPI's JPA server for FHIR R4 on an in-memory H2 database,
 * served by Jetty 12 at http://HOST:PORT/fhir. Written for fhir-evidence's tests and
 * benchmarks (scripts/hapi.sh starts it); no authorization, no audit, no persistence.
 *
 * <p>System properties: hapi.host (default 127.0.0.1), hapi.port (default 8080),
 * hapi.threads (Jetty's maximum, default 64), hapi.page.default (default 20),
 * hapi.page.max (default 500), hapi.db.connections (default 10).
 */
public final class UpstreamServer {

  private UpstreamServer() {}

  public static void main(String[] args) throws Exception {
    long began = System.nanoTime();
    String host = System.getProperty("hapi.host", "127.0.0.1");
    int port = Integer.getInteger("hapi.port", 8080);

    AnnotationConfigApplicationContext spring =
        new AnnotationConfigApplicationContext(UpstreamConfig.class);
    RestfulServer fhir = restfulServer(spring);

    QueuedThreadPool threads = new QueuedThreadPool(Integer.getInteger("hapi.threads", 64));
    threads.setName("hapi-http");
    Server jetty = new Server(threads);
    ServerConnector connector = new ServerConnector(jetty);
    connector.setHost(host);
    connector.setPort(port);
    jetty.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler("/");
    ServletHolder holder = new ServletHolder("fhir", fhir);
    holder.setInitOrder(1); // initialize the servlet at start, not on the first request
    context.addServlet(holder, "/fhir/*");
    jetty.setHandler(context);

    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    jetty.stop();
                  } catch (Exception e) {
                    System.err.println("stopping Jetty: " + e);
                  }
                  spring.close();
                },
                "hapi-shutdown"));
    jetty.start();
    long millis = (System.nanoTime() - began) / 1_000_000;
    // scripts/hapi.sh waits for this line (then for /fhir/metadata to answer).
    System.out.printf(
        "HAPI FHIR upstream started at http://%s:%d/fhir in %d ms%n",
        host, connector.getLocalPort(), millis);
    System.out.flush();
    jetty.join();
  }

  private static RestfulServer restfulServer(AnnotationConfigApplicationContext spring) {
    FhirContext fhirContext = spring.getBean(FhirContext.class);
    RestfulServer server = new RestfulServer(fhirContext);
    // HAPI's JPA interceptors (and any registered later) see the REST requests too.
    server.setInterceptorService(spring.getBean(IInterceptorService.class));
    // A resource provider (DAO-backed) for every R4 resource type, and the system-level
    // interactions (transaction/batch Bundles, history, $meta...).
    server.registerProviders(spring.getBean(ResourceProviderFactory.class).createProviders());
    server.registerProvider(spring.getBean("mySystemProviderR4", JpaSystemProvider.class));

    // Searches are paged through HAPI's database-backed search results: next/previous links
    // carry a search id (_getpages) and an offset.
    DatabaseBackedPagingProvider paging = spring.getBean(DatabaseBackedPagingProvider.class);
    paging.setDefaultPageSize(Integer.getInteger("hapi.page.default", 20));
    paging.setMaximumPageSize(Integer.getInteger("hapi.page.max", 500));
    server.setPagingProvider(paging);

    IFhirSystemDao<?, ?> systemDao = spring.getBean("mySystemDaoR4", IFhirSystemDao.class);
    server.setServerConformanceProvider(
        new JpaCapabilityStatementProvider(
            server,
            systemDao,
            spring.getBean(JpaStorageSettings.class),
            spring.getBean(ISearchParamRegistry.class),
            spring.getBean(IValidationSupport.class)));
    server.setDefaultResponseEncoding(EncodingEnum.JSON);
    server.setETagSupport(ETagSupportEnum.ENABLED);
    return server;
  }
}
