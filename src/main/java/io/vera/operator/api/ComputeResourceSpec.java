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

  @JsonPropertyDescription(
      "Kind of machine: Docker (a container), ProxmoxVM, ProxmoxLXC or Pod (a Kubernetes pod in this namespace).")
  @Required
  public Type type;

  @JsonPropertyDescription("Name of the Provider (Docker host or Proxmox cluster) that hosts it.")
  public String providerRef;

  @JsonPropertyDescription("Size of the machine.")
  public ResourceSpec resources;

  @Default("GENERAL")
  @JsonPropertyDescription(
      "Task type of the resource tasks this machine may run when allocated by type: LLM, WHISPER, TOOL, ML_MODEL, BACKGROUND or GENERAL.")
  public TaskType taskType;

  @Min(0)
  @JsonPropertyDescription("Remove the resource after it has been idle this long; 0 keeps it.")
  public Integer idleTimeoutSeconds;

  @JsonPropertyDescription("The container, for type Docker.")
  public DockerSpec docker;

  @JsonPropertyDescription("The VM or LXC container, for types ProxmoxVM and ProxmoxLXC.")
  public ProxmoxSpec proxmox;

  @JsonPropertyDescription("The pod, for type Pod.")
  public PodSpec pod;

  /** Size of a machine; the bounds are the legacy API's. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ResourceSpec {
    @Min(0.1)
    @Max(128)
    @Default("1.0")
    @JsonPropertyDescription("CPU cores (0.1-128; fractions allowed for containers and pods).")
    public Double cpuCores;

    @Min(128)
    @Max(512000)
    @Default("512")
    @JsonPropertyDescription("Memory in MiB (128-512000).")
    public Integer memoryMb;

    @Min(1)
    @Max(10000)
    @Default("10")
    @JsonPropertyDescription(
        "Disk in GiB (1-10000); for Docker see the Provider's docker.diskLimit.")
    public Integer diskGb;

    @Min(0)
    @Max(8)
    @Default("0")
    @JsonPropertyDescription("GPUs (0-8).")
    public Integer gpuCount;
  }

  /** A Docker container. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class DockerSpec {
    @JsonPropertyDescription(
        "Image of the container; must be present on the engine or pullable by it.")
    @Required
    public String image;

    @JsonPropertyDescription("Environment variables of the container, by name.")
    public Map<String, String> env;

    @JsonPropertyDescription("Bind mounts as host:container[:ro].")
    public List<String> volumes;

    @Default("none")
    @JsonPropertyDescription("Docker network mode: none (default), bridge, host or a network name.")
    public String networkMode;

    @JsonPropertyDescription(
        "Command of the container (arguments after the image); the image's when empty.")
    public List<String> command;

    @Default("no")
    @JsonPropertyDescription(
        "Docker restart policy: no (default), always, unless-stopped or on-failure.")
    public String restartPolicy;

    @Default("false")
    @JsonPropertyDescription("Run the container privileged (root on the host); false by default.")
    public Boolean privileged;

    @Default("true")
    @JsonPropertyDescription(
        "Recreate a container that disappeared behind the operator's back; false marks the resource Failed.")
    public Boolean recreate;
  }

  /** A Proxmox VM (cloned or created) or LXC container. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ProxmoxSpec {
    @JsonPropertyDescription("Proxmox node to create the machine on.")
    @Required
    public String node;

    @JsonPropertyDescription("VMID or name of the VM template to clone (ProxmoxVM).")
    public String template;

    @JsonPropertyDescription("Proxmox storage for the machine's disks; the template's when empty.")
    public String storage;

    @Default("vmbr0")
    @JsonPropertyDescription("Bridge of the machine's network interface.")
    public String networkBridge;

    @Default("true")
    @JsonPropertyDescription("Clone the template fully (true) or as a linked clone (false).")
    public Boolean fullClone;

    @JsonPropertyDescription(
        "OS template volume of an LXC container, e.g. local:vztmpl/debian-12-standard_12.2-1_amd64.tar.zst (ProxmoxLXC).")
    public String ostemplate;

    @JsonPropertyDescription(
        "Proxmox resource pool to put the machine in; the Provider's when empty.")
    public String pool;

    @JsonPropertyDescription("Proxmox tags added to the machine.")
    public List<String> tags;

    @JsonPropertyDescription(
        "Proxmox PCI resource mapping name passed through as GPU(s), for gpuCount > 0.")
    public String gpuMapping;
  }

  /** A Kubernetes pod. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class PodSpec {
    @JsonPropertyDescription("Image of the pod's container.")
    @Required
    public String image;

    @JsonPropertyDescription("Environment variables of the pod's container, by name.")
    public Map<String, String> env;

    @JsonPropertyDescription(
        "Command of the pod's container; when empty a shell that sleeps until stopped, so commands can be run in it.")
    public List<String> command;

    @JsonPropertyDescription(
        "Run the pod in the node's network namespace: only for clusters without a pod network.")
    public Boolean hostNetwork;
  }
}
