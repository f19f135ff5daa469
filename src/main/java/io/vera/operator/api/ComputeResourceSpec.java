package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import java.util.List;
import java.util.Map;

/** Desired machine of a {@link ComputeResource}: exactly one of docker, proxmox or pod applies. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ComputeResourceSpec {
  /** The kinds of machine a resource can be. */
  public enum Type {
    Docker,
    ProxmoxVM,
    ProxmoxLXC,
    Pod
  }

  @Required public Type type;

  @JsonPropertyDescription("Name of the Provider (Docker host or Proxmox cluster) that hosts it.")
  public String providerRef;

  public ResourceSpec resources;

  @Default("GENERAL")
  public TaskType taskType;

  @Min(0)
  @JsonPropertyDescription("Remove the resource after it has been idle this long; 0 keeps it.")
  public Integer idleTimeoutSeconds;

  public DockerSpec docker;
  public ProxmoxSpec proxmox;
  public PodSpec pod;

  /** Size of a machine; the bounds are the legacy API's. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ResourceSpec {
    @Min(0.1)
    @Max(128)
    @Default("1.0")
    public Double cpuCores;

    @Min(128)
    @Max(512000)
    @Default("512")
    public Integer memoryMb;

    @Min(1)
    @Max(10000)
    @Default("10")
    public Integer diskGb;

    @Min(0)
    @Max(8)
    @Default("0")
    public Integer gpuCount;
  }

  /** A Docker container. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class DockerSpec {
    @Required public String image;
    public Map<String, String> env;

    @JsonPropertyDescription("Bind mounts as host:container[:ro].")
    public List<String> volumes;

    @Default("none")
    public String networkMode;

    public List<String> command;

    @Default("no")
    public String restartPolicy;

    @Default("false")
    public Boolean privileged;

    @Default("true")
    @JsonPropertyDescription(
        "Recreate a container that disappeared behind the operator's back; false marks the resource Failed.")
    public Boolean recreate;
  }

  /** A Proxmox VM (cloned or created) or LXC container. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ProxmoxSpec {
    @Required public String node;
    public String template;
    public String storage;

    @Default("vmbr0")
    public String networkBridge;

    @Default("true")
    public Boolean fullClone;

    public String ostemplate;
    public String pool;
    public List<String> tags;
    public String gpuMapping;
  }

  /** A Kubernetes pod. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class PodSpec {
    @Required public String image;
    public Map<String, String> env;
    public List<String> command;

    @JsonPropertyDescription(
        "Run the pod in the node's network namespace: only for clusters without a pod network.")
    public Boolean hostNetwork;
  }
}
