# The operator and worker image: one jar, run as an unprivileged user on a read-only root.
# Build the jar first: ./mvnw -DskipTests package
# Multi-arch (the jar is platform-neutral; the base image provides each architecture's JRE):
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=0.1.0 \
#     --build-arg REVISION=$(git rev-parse HEAD) -t registry.example/vera-operator:0.1.0 --push .
# or, without a registry for the base or a Docker engine: .ci/build-image --platforms linux/amd64,linux/arm64
# (docs/install.md: images, SBOM and signatures)
ARG BASE_IMAGE=eclipse-temurin:17-jre
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="vera-operator" \
      org.opencontainers.image.description="Runs an AI assistant's background work on Kubernetes (VeraTask, WorkerPool, ComputeResource, Provider)." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="docs/install.md"
COPY target/vera-operator.jar /app/vera-operator.jar
COPY LICENSE /licenses/LICENSE
USER 65532:65532
# The operator's heap holds the tasks in flight, not the finished ones (docs/memory.md): 33 MB live
# after a full GC at rest; 512 MB leaves room for a large backlog and for the embedded store.
# Promoting what survives one young collection keeps G1 from copying long-lived objects on every
# pause (p99 at 500 tasks/s: 110-130 ms -> about 50 ms). Worker pods set their own options.
ENV JAVA_TOOL_OPTIONS="-Xmx512m -XX:MaxTenuringThreshold=1"
EXPOSE 8000
ENTRYPOINT ["java", "-jar", "/app/vera-operator.jar"]
CMD ["run"]
