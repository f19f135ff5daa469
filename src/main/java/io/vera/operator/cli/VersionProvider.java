package io.vera.operator.cli;

import picocli.CommandLine;

/** Reads the version from the jar manifest, so it always matches the build. */
public class VersionProvider implements CommandLine.IVersionProvider {
  @Override
  public String[] getVersion() {
    String version = VeraCommand.class.getPackage().getImplementationVersion();
    return new String[] {"vera-operator " + (version == null ? "development build" : version)};
  }
}
