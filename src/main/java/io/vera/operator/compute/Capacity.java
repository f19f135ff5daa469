package io.vera.operator.compute;

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
  public boolean covers(Capacity minimum) {
    return cpuCores + 1e-9 >= minimum.cpuCores
        && memoryMb >= minimum.memoryMb
        && diskGb >= minimum.diskGb
        && gpuCount >= minimum.gpuCount;
  }
}
