package io.vera.operator.compute;

import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ProviderStatus;

/** CPUs, memory, disk and GPUs of a machine or of a host; zeros where a host has no figure. */
public record Capacity(double cpuCores, long memoryMb, long diskGb, int gpuCount) {
  public static final Capacity NONE = new Capacity(0, 0, 0, 0);

  public Capacity plus(Capacity other) {
    return new Capacity(
        cpuCores + other.cpuCores,
        memoryMb + other.memoryMb,
        diskGb + other.diskGb,
        gpuCount + other.gpuCount);
  }

  /** Whether this has at least what {@code minimum} asks for, field by field. */
  boolean covers(Capacity minimum) {
    return cpuCores + 1e-9 >= minimum.cpuCores
        && memoryMb >= minimum.memoryMb
        && diskGb >= minimum.diskGb
        && gpuCount >= minimum.gpuCount;
  }

  /** What a resource spec asks for, with the CRD's defaults where it is silent. */
  public static Capacity of(ComputeResourceSpec.ResourceSpec spec) {
    if (spec == null) {
      return new Capacity(1.0, 512, 10, 0);
    }
    return new Capacity(
        spec.cpuCores == null ? 1.0 : spec.cpuCores,
        spec.memoryMb == null ? 512 : spec.memoryMb,
        spec.diskGb == null ? 10 : spec.diskGb,
        spec.gpuCount == null ? 0 : spec.gpuCount);
  }

  public ProviderStatus.Capacity toStatus() {
    ProviderStatus.Capacity status = new ProviderStatus.Capacity();
    status.cpuCores = cpuCores;
    status.memoryMb = memoryMb;
    status.diskGb = diskGb;
    status.gpuCount = gpuCount;
    return status;
  }

  public static Capacity fromStatus(ProviderStatus.Capacity status) {
    if (status == null) {
      return NONE;
    }
    return new Capacity(
        status.cpuCores == null ? 0 : status.cpuCores,
        status.memoryMb == null ? 0 : status.memoryMb,
        status.diskGb == null ? 0 : status.diskGb,
        status.gpuCount == null ? 0 : status.gpuCount);
  }
}
