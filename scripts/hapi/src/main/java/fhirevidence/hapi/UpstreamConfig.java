package fhirevidence.hapi;

import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.jpa.binary.api.IBinaryStorageSvc;
import ca.uhn.fhir.jpa.binstore.MemoryBinaryStorageSvcImpl;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirH2Dialect;
import ca.uhn.fhir.jpa.model.entity.StorageSettings;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import jakarta.persistence.EntityManagerFactory;
import java.util.Properties;
import javax.sql.DataSource;
import org.apache.commons.dbcp2.BasicDataSource;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;

/**
 * The Spring configuration of our upstream: HAPI's own JPA configuration for FHIR R4
 * (JpaR4Config, HapiJpaConfig, the batch2 job framework its providers need) plus what HAPI
 * leaves to the application: the database (in-memory H2 through a small pool), the entity
 * manager factory with HAPI's H2 dialect, the transaction manager, binary storage and the
 * storage settings. No full-text indexing (Hibernate Search off), no subscription matching.
 */
@Configuration
@Import({
  JpaR4Config.class,
  HapiJpaConfig.class,
  JpaBatch2Config.class,
  Batch2JobsConfig.class,
  // HAPI's in-memory message broker: batch2 (reindexing, expunge...) sends its work there.
  SubscriptionChannelConfig.class,
  // The thread pools of transaction Bundles and searches.
  ThreadPoolFactoryConfig.class
})
public class UpstreamConfig {

  /** Pool size: the server's request threads beyond this wait for a connection. */
  static final int DB_CONNECTIONS = Integer.getInteger("hapi.db.connections", 10);

  @Bean
  public JpaStorageSettings storageSettings() {
    JpaStorageSettings settings = new JpaStorageSettings();
    // Clients (our seeding, the gateway) choose ids such as pat-00001: allowed for any id.
    settings.setResourceClientIdStrategy(JpaStorageSettings.ClientIdStrategyEnum.ANY);
    // A search answers from the database every time: HAPI would otherwise reuse the results
    // of an identical search for a minute, and a test that writes then searches would see
    // the old results.
    settings.setReuseCachedSearchResultsForMillis(null);
    // Tags and security labels belong to a version: an update that drops a label drops it
    // (the default, NON_VERSIONED, keeps every label a resource ever had).
    settings.setTagStorageMode(StorageSettings.TagStorageModeEnum.VERSIONED);
    settings.setIndexMissingFields(StorageSettings.IndexEnabledEnum.DISABLED);
    settings.setAdvancedHSearchIndexing(false);
    settings.setHibernateSearchIndexSearchParams(false);
    settings.setAllowMultipleDelete(true);
    settings.setAutoCreatePlaceholderReferenceTargets(false);
    return settings;
  }

  @Bean
  public PartitionSettings partitionSettings() {
    return new PartitionSettings();
  }

  @Bean(destroyMethod = "close")
  public BasicDataSource dataSource() {
    BasicDataSource pool = new BasicDataSource();
    pool.setDriver(new org.h2.Driver());
    // One private in-memory database per JVM, kept while the pool holds no connection.
    pool.setUrl("jdbc:h2:mem:hapi;DB_CLOSE_DELAY=-1");
    pool.setUsername("sa");
    pool.setPassword("");
    pool.setMaxTotal(DB_CONNECTIONS);
    pool.setMaxWait(java.time.Duration.ofSeconds(30));
    return pool;
  }

  @Bean
  public LocalContainerEntityManagerFactoryBean entityManagerFactory(
      ConfigurableListableBeanFactory beanFactory,
      FhirContext fhirContext,
      JpaStorageSettings storageSettings,
      DataSource dataSource) {
    LocalContainerEntityManagerFactoryBean factory =
        HapiEntityManagerFactoryUtil.newEntityManagerFactory(
            beanFactory, fhirContext, storageSettings);
    factory.setPersistenceUnitName("fhir_evidence_hapi_upstream");
    factory.setDataSource(dataSource);
    Properties jpa = new Properties();
    jpa.put("hibernate.dialect", HapiFhirH2Dialect.class.getName());
    jpa.put("hibernate.hbm2ddl.auto", "update");
    jpa.put("hibernate.format_sql", "false");
    jpa.put("hibernate.show_sql", "false");
    jpa.put("hibernate.jdbc.batch_size", "50");
    jpa.put("hibernate.order_inserts", "true");
    jpa.put("hibernate.order_updates", "true");
    jpa.put("hibernate.cache.use_query_cache", "false");
    jpa.put("hibernate.cache.use_second_level_cache", "false");
    jpa.put("hibernate.cache.use_minimal_puts", "false");
    jpa.put("hibernate.search.enabled", "false");
    factory.setJpaProperties(jpa);
    return factory;
  }

  /* Named transactionManager: HAPI's services ask for that name. */
  @Bean
  @Primary
  public JpaTransactionManager transactionManager(EntityManagerFactory entityManagerFactory) {
    JpaTransactionManager manager = new JpaTransactionManager();
    manager.setEntityManagerFactory(entityManagerFactory);
    return manager;
  }

  @Bean
  public IBinaryStorageSvc binaryStorage() {
    return new MemoryBinaryStorageSvcImpl();
  }
}
