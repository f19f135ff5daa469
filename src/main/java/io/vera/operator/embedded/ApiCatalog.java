package io.vera.operator.embedded;

import io.fabric8.kubernetes.api.model.APIGroup;
import io.fabric8.kubernetes.api.model.APIGroupBuilder;
import io.fabric8.kubernetes.api.model.APIGroupList;
import io.fabric8.kubernetes.api.model.APIGroupListBuilder;
import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceBuilder;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.api.model.APIResourceListBuilder;
import io.fabric8.kubernetes.api.model.APIVersions;
import io.fabric8.kubernetes.api.model.APIVersionsBuilder;
import io.fabric8.kubernetes.api.model.GroupVersionForDiscovery;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionNames;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceSubresources;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The API discovery documents kubectl reads, built from a fixed set of built-in kinds plus every
 * installed CustomResourceDefinition.
 */
final class ApiCatalog {

  /**
   * Where a scale subresource reads and writes its object; simple JSON paths, e.g. .spec.replicas.
   */
  record ScalePaths(String specReplicasPath, String statusReplicasPath, String labelSelectorPath) {}

  /** A served custom resource: its CRD and the version a request addressed. */
  record CustomResource(CustomResourceDefinition crd, CustomResourceDefinitionVersion version) {}

  private static final String CORE_VERSION = "v1";
  private static final List<String> VERBS =
      List.of("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch");
  private static final List<String> SUBRESOURCE_VERBS = List.of("get", "patch", "update");
  private static final ScalePaths BUILT_IN_SCALE =
      new ScalePaths(".spec.replicas", ".status.replicas", null);

  /** Built-in resources of one group version ("v1" for the core group). */
  private record BuiltIn(String groupVersion, List<APIResource> resources) {}

  /** The built-in resources embedded mode serves, in discovery order. */
  private static final List<BuiltIn> BUILT_IN =
      List.of(
          new BuiltIn(
              CORE_VERSION,
              List.of(
                  resource("namespaces", "Namespace", false, "ns"),
                  inCategoryAll(resource("pods", "Pod", true, "po")),
                  inCategoryAll(resource("services", "Service", true, "svc")),
                  resource("configmaps", "ConfigMap", true, "cm"),
                  resource("secrets", "Secret", true),
                  resource("events", "Event", true, "ev"),
                  resource("serviceaccounts", "ServiceAccount", true, "sa"))),
          new BuiltIn(
              "apps/v1",
              List.of(
                  inCategoryAll(resource("deployments", "Deployment", true, "deploy")),
                  subresource("deployments/status", "Deployment", true),
                  scale("deployments/scale", true),
                  inCategoryAll(resource("replicasets", "ReplicaSet", true, "rs")),
                  subresource("replicasets/status", "ReplicaSet", true),
                  scale("replicasets/scale", true))),
          new BuiltIn("coordination.k8s.io/v1", List.of(resource("leases", "Lease", true))),
          new BuiltIn("events.k8s.io/v1", List.of(resource("events", "Event", true, "ev"))),
          new BuiltIn(
              "apiextensions.k8s.io/v1",
              List.of(
                  resource(
                      "customresourcedefinitions",
                      "CustomResourceDefinition",
                      false,
                      "crd",
                      "crds"),
                  subresource(
                      "customresourcedefinitions/status", "CustomResourceDefinition", false))));

  private final List<CustomResourceDefinition> crds;

  ApiCatalog(List<CustomResourceDefinition> crds) {
    this.crds = List.copyOf(crds);
  }

  /** The document at /api. */
  APIVersions coreVersions() {
    return new APIVersionsBuilder().withVersions(CORE_VERSION).build();
  }

  /** The document at /apis: the built-in groups, then each CRD group. */
  APIGroupList groups() {
    Map<String, List<String>> versionsByGroup = new LinkedHashMap<>();
    for (BuiltIn builtIn : BUILT_IN) {
      String[] parts = builtIn.groupVersion().split("/", 2);
      if (parts.length == 2) {
        versionsByGroup.computeIfAbsent(parts[0], g -> new ArrayList<>()).add(parts[1]);
      }
    }
    for (CustomResourceDefinition crd : crds) {
      List<String> versions =
          versionsByGroup.computeIfAbsent(crd.getSpec().getGroup(), g -> new ArrayList<>());
      for (CustomResourceDefinitionVersion version : crd.getSpec().getVersions()) {
        if (Boolean.TRUE.equals(version.getServed()) && !versions.contains(version.getName())) {
          versions.add(version.getName());
        }
      }
    }
    List<APIGroup> groups = new ArrayList<>();
    versionsByGroup.forEach(
        (group, versions) -> {
          if (!versions.isEmpty()) {
            groups.add(group(group, versions));
          }
        });
    return new APIGroupListBuilder().withGroups(groups).build();
  }

  /** The document at /apis/{group}, if the group is served. */
  Optional<APIGroup> group(String name) {
    return groups().getGroups().stream().filter(g -> g.getName().equals(name)).findFirst();
  }

  /** The document at /api/v1 or /apis/{group}/{version}, if that group version is served. */
  Optional<APIResourceList> resources(String groupVersion) {
    List<APIResource> resources = new ArrayList<>(builtIn(groupVersion));
    boolean served = !resources.isEmpty();
    for (CustomResourceDefinition crd : crds) {
      for (CustomResourceDefinitionVersion version : crd.getSpec().getVersions()) {
        if (Boolean.TRUE.equals(version.getServed())
            && groupVersion.equals(crd.getSpec().getGroup() + "/" + version.getName())) {
          resources.addAll(resources(crd, version));
          served = true;
        }
      }
    }
    if (!served) {
      return Optional.empty();
    }
    return Optional.of(
        new APIResourceListBuilder()
            .withGroupVersion(groupVersion)
            .withResources(resources)
            .build());
  }

  /** The served custom resource at a group version and plural, if a CRD defines one. */
  Optional<CustomResource> customResource(String groupVersion, String plural) {
    for (CustomResourceDefinition crd : crds) {
      if (!crd.getSpec().getNames().getPlural().equals(plural)) {
        continue;
      }
      for (CustomResourceDefinitionVersion version : crd.getSpec().getVersions()) {
        if (Boolean.TRUE.equals(version.getServed())
            && groupVersion.equals(crd.getSpec().getGroup() + "/" + version.getName())) {
          return Optional.of(new CustomResource(crd, version));
        }
      }
    }
    return Optional.empty();
  }

  /** Every served version of every installed CRD. */
  List<CustomResource> customResources() {
    List<CustomResource> served = new ArrayList<>();
    for (CustomResourceDefinition crd : crds) {
      for (CustomResourceDefinitionVersion version : crd.getSpec().getVersions()) {
        if (Boolean.TRUE.equals(version.getServed())) {
          served.add(new CustomResource(crd, version));
        }
      }
    }
    return served;
  }

  /**
   * The built-in group versions ("v1" for the core group) and their resources, subresources too.
   */
  static Map<String, List<APIResource>> builtInResources() {
    Map<String, List<APIResource>> resources = new LinkedHashMap<>();
    BUILT_IN.forEach(b -> resources.put(b.groupVersion(), b.resources()));
    return resources;
  }

  /** Where the scale subresource of a resource lives, if it has one. */
  Optional<ScalePaths> scalePaths(String groupVersion, String plural) {
    if (builtIn(groupVersion).stream().anyMatch(r -> r.getName().equals(plural + "/scale"))) {
      return Optional.of(BUILT_IN_SCALE);
    }
    return customResource(groupVersion, plural)
        .map(r -> r.version().getSubresources())
        .map(CustomResourceSubresources::getScale)
        .map(
            scale ->
                new ScalePaths(
                    scale.getSpecReplicasPath(),
                    scale.getStatusReplicasPath(),
                    scale.getLabelSelectorPath()));
  }

  private static List<APIResource> builtIn(String groupVersion) {
    return BUILT_IN.stream()
        .filter(b -> b.groupVersion().equals(groupVersion))
        .findFirst()
        .map(BuiltIn::resources)
        .orElse(List.of());
  }

  private static List<APIResource> resources(
      CustomResourceDefinition crd, CustomResourceDefinitionVersion version) {
    CustomResourceDefinitionNames names = crd.getSpec().getNames();
    boolean namespaced = "Namespaced".equals(crd.getSpec().getScope());
    List<APIResource> resources = new ArrayList<>();
    resources.add(
        new APIResourceBuilder()
            .withName(names.getPlural())
            .withSingularName(names.getSingular())
            .withNamespaced(namespaced)
            .withKind(names.getKind())
            .withVerbs(VERBS)
            .withShortNames(names.getShortNames())
            .withCategories(names.getCategories())
            .build());
    if (version.getSubresources() != null && version.getSubresources().getStatus() != null) {
      resources.add(subresource(names.getPlural() + "/status", names.getKind(), namespaced));
    }
    if (version.getSubresources() != null && version.getSubresources().getScale() != null) {
      resources.add(scale(names.getPlural() + "/scale", namespaced));
    }
    return resources;
  }

  private static APIGroup group(String name, List<String> versions) {
    List<GroupVersionForDiscovery> discovery =
        versions.stream().map(v -> new GroupVersionForDiscovery(name + "/" + v, v)).toList();
    return new APIGroupBuilder()
        .withName(name)
        .withVersions(discovery)
        .withPreferredVersion(discovery.get(0))
        .build();
  }

  private static APIResource resource(
      String name, String kind, boolean namespaced, String... shortNames) {
    return new APIResourceBuilder()
        .withName(name)
        .withSingularName(kind.toLowerCase(Locale.ROOT))
        .withNamespaced(namespaced)
        .withKind(kind)
        .withVerbs(VERBS)
        .withShortNames(shortNames)
        .build();
  }

  private static APIResource inCategoryAll(APIResource resource) {
    return new APIResourceBuilder(resource).withCategories("all").build();
  }

  private static APIResource subresource(String name, String kind, boolean namespaced) {
    return new APIResourceBuilder()
        .withName(name)
        .withSingularName("")
        .withNamespaced(namespaced)
        .withKind(kind)
        .withVerbs(SUBRESOURCE_VERBS)
        .build();
  }

  /** A scale subresource; its kind is autoscaling/v1 Scale whatever the resource's group. */
  private static APIResource scale(String name, boolean namespaced) {
    return new APIResourceBuilder(subresource(name, "Scale", namespaced))
        .withGroup("autoscaling")
        .withVersion("v1")
        .build();
  }
}
