package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.mockwebserver.crud.Attribute;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.crud.AttributeType;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The index of {@link IndexedStore} against what the mock's scan would find. */
class IndexedStoreTest {

  private final IndexedStore store = IndexedStore.install(new KubernetesCrudDispatcher());

  @Test
  void aLookupByNameTestsOnlyTheKeyFiledUnderThatName() {
    for (int i = 0; i < 50_000; i++) {
      store.put(key("veratasks", "ns-" + (i % 10), "task-" + i), "{}");
    }
    long examined = store.examinedKeys();

    Map.Entry<AttributeSet, String> found = store.first(query("veratasks", "ns-7", "task-31337"));

    assertThat(found).isNotNull();
    assertThat(found.getKey().getAttribute("name").getValues().get(0)).hasToString("task-31337");
    assertThat(store.examinedKeys() - examined).isEqualTo(1);
    assertThat(store.first(query("veratasks", "ns-6", "task-31337"))).isNull();
    assertThat(store.examinedKeys() - examined).isEqualTo(1);
    assertThat(store.fullScans()).isZero();
  }

  @Test
  void findsWhatTheMocksScanFindsInTheSameOrder() {
    for (int i = 0; i < 300; i++) {
      store.put(
          key("configmaps", "ns-" + (i % 3), "cm-" + (i % 50))
              .add(new Attribute("labels:app", i % 4 == 0 ? "x" : "y")),
          "{\"i\":" + i + "}");
      if (i % 7 == 0) {
        store.remove(key("configmaps", "ns-" + ((i / 2) % 3), "cm-" + ((i / 2) % 50)));
      }
    }
    store.put(new AttributeSet(new Attribute("version", "v1")), "{\"no\":\"plural\"}");

    List<AttributeSet> queries =
        List.of(
            query("configmaps", "ns-1", "cm-4"),
            query("configmaps", null, "cm-4"),
            query("configmaps", "ns-2", null),
            query("configmaps", null, null),
            query("configmaps", "ns-2", null).add(new Attribute("labels:app", "x")),
            query("configmaps", "ns-2", null)
                .add(new Attribute("labels:app", "x", AttributeType.WITHOUT)),
            query("configmaps", null, null).add(new Attribute("namespace", "*")),
            query("secrets", "ns-1", null),
            new AttributeSet(new Attribute("version", "v1")),
            new AttributeSet());
    for (AttributeSet query : queries) {
      assertThat(store.matching(query)).as(query.toString()).isEqualTo(scan(query));
    }
  }

  @Test
  void keysLeaveTheIndexWithTheirEntries() {
    AttributeSet a = key("pods", "ns", "a");
    AttributeSet b = key("pods", "ns", "b");
    AttributeSet c = key("pods", "other", "c");
    store.put(a, "a");
    store.put(b, "b");
    store.put(c, "c");

    store.remove(a);
    Iterator<Map.Entry<AttributeSet, String>> entries = store.entrySet().iterator();
    while (entries.hasNext()) {
      if (entries.next().getKey().equals(b)) {
        entries.remove();
      }
    }

    assertThat(store.matching(query("pods", "ns", null))).isEmpty();
    assertThat(store.matching(query("pods", null, null)))
        .extracting(Map.Entry::getValue)
        .containsExactly("c");
    store.clear();
    assertThat(store.matching(query("pods", null, null))).isEmpty();
    assertThat(store).isEmpty();
  }

  @Test
  void anUpdatedKeyKeepsItsPlaceAndAReplacedOneMovesToTheEnd() {
    store.put(key("pods", "ns", "a"), "a1");
    store.put(key("pods", "ns", "b"), "b1");
    store.put(key("pods", "ns", "a"), "a2");
    assertThat(store.matching(query("pods", "ns", null)))
        .extracting(Map.Entry::getValue)
        .containsExactly("a2", "b1");

    // The mock replaces an object by removing its old key and putting its new one.
    store.remove(key("pods", "ns", "a"));
    store.put(key("pods", "ns", "a").add(new Attribute("labels:x", "y")), "a3");
    assertThat(store.matching(query("pods", "ns", null)))
        .extracting(Map.Entry::getValue)
        .containsExactly("b1", "a3");
    assertThat(store.matching(query("pods", "ns", null)))
        .isEqualTo(scan(query("pods", "ns", null)));
  }

  @Test
  void aWildcardKeyMakesEveryQueryScanAsTheMockWould() {
    store.put(key("pods", "ns", "a"), "a");
    store.put(key("pods", "*", "b"), "b");

    assertThat(store.matching(query("pods", "ns", null)))
        .extracting(Map.Entry::getValue)
        .containsExactly("a", "b");
    assertThat(store.fullScans()).isEqualTo(1);

    store.remove(key("pods", "*", "b"));
    store.matching(query("pods", "ns", null));
    assertThat(store.fullScans()).isEqualTo(1);
  }

  @Test
  void refusesADispatcherThatAlreadyStoresObjects() {
    KubernetesCrudDispatcher dispatcher = new KubernetesCrudDispatcher();
    dispatcher.getMap().put(key("pods", "ns", "a"), "{}");

    assertThatThrownBy(() -> IndexedStore.install(dispatcher))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("CrudDispatcher");
  }

  private List<Map.Entry<AttributeSet, String>> scan(AttributeSet query) {
    List<Map.Entry<AttributeSet, String>> found = new ArrayList<>();
    for (Map.Entry<AttributeSet, String> entry : store.entrySet()) {
      if (entry.getKey().matches(query)) {
        found.add(Map.entry(entry.getKey(), entry.getValue()));
      }
    }
    return found;
  }

  /** A stored key as the mock's attribute extractor makes one. */
  private static AttributeSet key(String plural, String namespace, String name) {
    return new AttributeSet(
        new Attribute("plural", plural),
        new Attribute("version", "v1"),
        new Attribute("namespace", namespace),
        new Attribute("metadata.namespace", namespace),
        new Attribute("name", name),
        new Attribute("metadata.name", name));
  }

  /** A query as the mock reads one from a path. */
  private static AttributeSet query(String plural, String namespace, String name) {
    List<Attribute> attributes = new ArrayList<>();
    attributes.add(new Attribute("plural", plural));
    attributes.add(new Attribute("version", "v1"));
    if (namespace != null) {
      attributes.add(new Attribute("namespace", namespace));
    }
    if (name != null) {
      attributes.add(new Attribute("name", name));
    }
    return new AttributeSet(attributes);
  }
}
